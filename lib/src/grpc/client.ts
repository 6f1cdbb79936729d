import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import * as grpc from "@grpc/grpc-js";
import { clientResilienceMetrics, grpcClientMetrics, methodMetrics, rpcLabels } from "../observability/metrics.js";
import { injectedHeaders, rpcSpanAttributes, startSpan } from "../observability/tracing.js";
import { outgoingDeadline } from "./deadline.js";
import {
  DEFAULT_RETRY,
  DownstreamGuard,
  isRetryableMethod,
  LocalCallFailure,
  type ResilienceOptions,
  type RetryOptions,
  withRetries,
} from "./resilience.js";

/** A unary method of a generated grpc-js service definition, seen from the client side. */
interface UnaryMethod<Req, Res> {
  path: string;
  requestStream: false;
  responseStream: false;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

export interface CallOptions {
  /** This call's time budget; defaults to the client's deadlineMs. Never past the incoming call's deadline (see deadline.ts). */
  deadlineMs?: number;
  metadata?: grpc.Metadata;
  signal?: AbortSignal;
  /**
   * The call is work the service does for itself after its caller stopped
   * waiting (a compensation: release what was reserved), so the incoming
   * deadline does not cut it; its own deadlineMs still does.
   */
  outlivesCaller?: boolean;
}

/** Every unary method of the definition `D` as a promise-returning function. */
export type PromiseClient<D> = {
  [K in keyof D]: D[K] extends UnaryMethod<infer Req, infer Res> ? (request: Req, options?: CallOptions) => Promise<Res> : never;
} & {
  /** The downstream's circuit breaker state ("closed" if it has none). */
  circuit(): "closed" | "half_open" | "open";
  /** Close the channel. */
  close(): void;
};

export interface ClientOptions extends ResilienceOptions {
  /** The deadline of every call that does not set its own. There is no call without one. */
  deadlineMs: number;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
}

/**
 * grpc-js waits up to 120 s between reconnection attempts by default; a
 * downstream that comes back should be found within seconds, about when the
 * breaker lets its trial call through. Calls are spread over every address the
 * target resolves to (round_robin; the default pick_first sends them all to
 * one): a Kubernetes headless Service answers with every ready pod, and servers
 * close connections after a while (server.ts) so new pods get found. Channelz
 * is off, as on the servers (SERVER_OPTIONS).
 */
const CHANNEL_DEFAULTS: grpc.ChannelOptions = {
  "grpc.enable_channelz": 0,
  "grpc.initial_reconnect_backoff_ms": 250,
  "grpc.max_reconnect_backoff_ms": 5000,
  "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
};

/**
 * A typed promise client over a generated service definition, one per
 * downstream. Every call has a deadline, never later than the incoming call's
 * when made from a handler. Methods the contract declares NO_SIDE_EFFECTS or
 * IDEMPOTENT are retried on UNAVAILABLE with jittered backoff within that
 * deadline; others are never retried. A circuit breaker and a bulkhead guard
 * the downstream (resilience.ts). A failed call rejects with grpc-js's
 * ServiceError (code, details, metadata), or one that looks like it when the
 * client refused it itself (circuit open: UNAVAILABLE; bulkhead full:
 * RESOURCE_EXHAUSTED).
 */
export function createClient<D extends grpc.ServiceDefinition>(
  definition: D,
  address: string,
  options: ClientOptions,
): PromiseClient<D> {
  const channel = new grpc.Client(address, options.credentials ?? grpc.credentials.createInsecure(), {
    ...CHANNEL_DEFAULTS,
    // Under TLS, name the downstream in SNI rather than its address: Node warns (DEP0123) when
    // that is an IP such as 127.0.0.1, and the server's identity is what the credentials check.
    ...(options.target !== undefined && { "grpc.ssl_target_name_override": options.target }),
    ...options.channelOptions,
  });
  const target = options.target ?? address;
  const guard = new DownstreamGuard(target, options);
  const client: Record<string, unknown> = { close: () => channel.close(), circuit: () => guard.circuit };
  for (const [name, method] of Object.entries(definition)) {
    if (method.requestStream || method.responseStream) continue;
    const labels = rpcLabels(method.path);
    const metrics = methodMetrics(grpcClientMetrics, method.path);
    const spanAttributes = rpcSpanAttributes(method.path);
    const retry: RetryOptions | undefined =
      options.retry !== false && isRetryableMethod(method.path) ? { ...DEFAULT_RETRY, ...options.retry } : undefined;

    /** One attempt on the wire, counted in the go-grpc-prometheus client metrics. */
    const attempt = (request: unknown, metadata: grpc.Metadata, deadline: number, signal: AbortSignal | undefined) =>
      new Promise<unknown>((resolve, reject) => {
        if (Date.now() >= deadline) {
          reject(new LocalCallFailure(grpc.status.DEADLINE_EXCEEDED, `no time left to call ${method.path}`));
          return;
        }
        const started = performance.now();
        metrics.started();
        const pending = channel.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata,
          { deadline },
          (error, response) => {
            signal?.removeEventListener("abort", cancel);
            const code = error?.code ?? grpc.status.OK;
            metrics.ended(code, performance.now() - started);
            if (error) reject(error);
            else resolve(response);
          },
        );
        const cancel = () => pending.cancel();
        signal?.addEventListener("abort", cancel, { once: true });
      });

    client[name] = async (request: unknown, call: CallOptions = {}) => {
      const deadline = outgoingDeadline(call.deadlineMs ?? options.deadlineMs, call.outlivesCaller);
      // One client span for the logical call, its retries included, under whatever is active (the handler's server span).
      const span = startSpan(method.path.slice(1), SpanKind.CLIENT, spanAttributes);
      const metadata = call.metadata?.clone() ?? new grpc.Metadata();
      for (const [key, value] of Object.entries(injectedHeaders(trace.setSpan(context.active(), span)))) metadata.set(key, value);
      let attempts = 0;
      let code = grpc.status.OK;
      try {
        return await withRetries(
          () => {
            attempts++;
            return guard.run(() => attempt(request, metadata.clone(), deadline, call.signal), call.signal);
          },
          retry,
          deadline,
          call.signal,
          (error) =>
            clientResilienceMetrics.retries.inc({
              target,
              grpc_service: labels.grpc_service,
              grpc_method: labels.grpc_method,
              grpc_code: grpc.status[error.code] ?? String(error.code),
            }),
        );
      } catch (error) {
        const failure = error as grpc.ServiceError;
        code = failure.code;
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure.details });
        throw error;
      } finally {
        span.setAttributes({ "rpc.grpc.status_code": code, "rpc.grpc.attempts": attempts });
        span.end();
      }
    };
  }
  return client as PromiseClient<D>;
}

/** True if `error` is a gRPC failure with status `code`. */
export function hasStatus(error: unknown, code: grpc.status): error is grpc.ServiceError {
  return typeof error === "object" && error !== null && (error as grpc.ServiceError).code === code;
}
