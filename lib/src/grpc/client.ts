import * as grpc from "@grpc/grpc-js";

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
    client[name] = (request: unknown, call: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + (call.deadlineMs ?? options.deadlineMs);
        const pending = channel.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          call.metadata ?? new grpc.Metadata(),
          { deadline },
          (error, response) => (error ? reject(error) : resolve(response)),
        );
        call.signal?.addEventListener("abort", () => pending.cancel(), { once: true });
      });
  }
  return client as PromiseClient<D>;
}

/** True if `error` is a gRPC failure with status `code`. */
export function hasStatus(error: unknown, code: grpc.status): error is grpc.ServiceError {
  return typeof error === "object" && error !== null && (error as grpc.ServiceError).code === code;
}
