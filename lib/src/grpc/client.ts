import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import * as grpc from "@grpc/grpc-js";
import { grpcClientMetrics, rpcLabels } from "../observability/metrics.js";
import { injectedHeaders, tracer } from "../observability/tracing.js";

/** A unary method of a generated grpc-js service definition, seen from the client side. */
interface UnaryMethod<Req, Res> {
  path: string;
  requestStream: false;
  responseStream: false;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

export interface CallOptions {
  /** This call's time budget; defaults to the client's deadlineMs. */
  deadlineMs?: number;
  metadata?: grpc.Metadata;
  signal?: AbortSignal;
}

/** Every unary method of the definition `D` as a promise-returning function. */
export type PromiseClient<D> = {
  [K in keyof D]: D[K] extends UnaryMethod<infer Req, infer Res> ? (request: Req, options?: CallOptions) => Promise<Res> : never;
} & {
  /** Close the channel. */
  close(): void;
};

export interface ClientOptions {
  /** The deadline of every call that does not set its own. There is no call without one. */
  deadlineMs: number;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
}

/**
 * A typed promise client over a generated service definition. Every call has a
 * deadline; a failed call rejects with grpc-js's ServiceError (code, details,
 * metadata).
 */
export function createClient<D extends grpc.ServiceDefinition>(
  definition: D,
  address: string,
  options: ClientOptions,
): PromiseClient<D> {
  const channel = new grpc.Client(address, options.credentials ?? grpc.credentials.createInsecure(), options.channelOptions);
  const client: Record<string, unknown> = { close: () => channel.close() };
  for (const [name, method] of Object.entries(definition)) {
    if (method.requestStream || method.responseStream) continue;
    const labels = rpcLabels(method.path);
    client[name] = (request: unknown, call: CallOptions = {}) => {
      const started = performance.now();
      grpcClientMetrics.started.inc(labels);
      // A client span under whatever is active (the handler's server span), sent along as traceparent.
      const span = tracer().startSpan(method.path.slice(1), {
        kind: SpanKind.CLIENT,
        attributes: { "rpc.system": "grpc", "rpc.service": labels.grpc_service, "rpc.method": labels.grpc_method },
      });
      const metadata = call.metadata?.clone() ?? new grpc.Metadata();
      for (const [key, value] of Object.entries(injectedHeaders(trace.setSpan(context.active(), span)))) metadata.set(key, value);
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + (call.deadlineMs ?? options.deadlineMs);
        const pending = channel.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata,
          { deadline },
          (error, response) => {
            const code = error?.code ?? grpc.status.OK;
            grpcClientMetrics.handled.inc({ ...labels, grpc_code: grpc.status[code] ?? String(code) });
            grpcClientMetrics.handling.observe(labels, (performance.now() - started) / 1000);
            span.setAttribute("rpc.grpc.status_code", code);
            if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error.details });
            span.end();
            if (error) reject(error);
            else resolve(response);
          },
        );
        call.signal?.addEventListener("abort", () => pending.cancel(), { once: true });
      });
    };
  }
  return client as PromiseClient<D>;
}

/** True if `error` is a gRPC failure with status `code`. */
export function hasStatus(error: unknown, code: grpc.status): error is grpc.ServiceError {
  return typeof error === "object" && error !== null && (error as grpc.ServiceError).code === code;
}
