import { context, type SpanContext, SpanKind, SpanStatusCode, type TextMapGetter, trace } from "@opentelemetry/api";
import * as grpc from "@grpc/grpc-js";
import { DomainError, unavailable } from "../errors.js";
import { type Logger, rpcLineWriter } from "../logger.js";
import { type CallGuard } from "./call-guard.js";
import { withIncomingDeadline } from "./deadline.js";
import { toStatus } from "./status.js";
import { extractContext, rpcSpanAttributes, startSpan, useAsyncContext } from "../observability/tracing.js";

/** A unary method of a generated grpc-js service definition (ts-proto, outputServices=grpc-js). */
interface UnaryMethod<Req, Res> {
  path: string;
  requestStream: false;
  responseStream: false;
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(value: Res): Buffer;
}

/** What a handler knows about the call it serves. */
export interface CallContext {
  metadata: grpc.Metadata;
  /** Aborted when the client cancels or its deadline passes: stop work that nobody waits for. */
  signal: AbortSignal;
  /** When the client stops waiting (ms since the epoch; Infinity if it set no deadline). Never extend it downstream. */
  deadline: number;
  peer: string;
}

/** A service implemented as promise-returning functions, typed by its generated definition. */
export type UnaryHandlers<D> = {
  [K in keyof D]: D[K] extends UnaryMethod<infer Req, infer Res> ? (request: Req, call: CallContext) => Promise<Res> : never;
};

/**
 * Register promise handlers for a generated service definition. This is the one
 * place where handler errors become statuses: a DomainError becomes its kind's
 * status with its message and field violations (status.ts); anything else is a
 * bug, logged with its stack and answered INTERNAL without internals. `resolve` returns the handlers, or
 * throws UNAVAILABLE while the service is still starting.
 */
export function addUnaryService<D extends grpc.ServiceDefinition>(
  server: grpc.Server,
  definition: D,
  resolve: () => UnaryHandlers<D>,
  logger: Logger,
  guard?: CallGuard,
): void {
  useAsyncContext();
  const logRpc = rpcLogger(logger);
  const tolerant: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    if (method.requestStream || method.responseStream) {
      throw new Error(`${method.path}: only unary methods are supported by addUnaryService`);
    }
    tolerant[name] = { ...method, requestDeserialize: decodeOrMark(method.requestDeserialize) };
    const spanAttributes = rpcSpanAttributes(method.path);
    // The server metrics, counted here rather than in an intercepting layer around every call (call-guard.ts).
    const metrics = guard?.countedByHandler(method.path);
    implementation[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = performance.now();
      metrics?.started();
      const context_ = new ServedCall(call);
      // One context for everything the handler does (calls, queries, events), across awaits: the
      // call's span as the parent, and its deadline, which every call the handler makes downstream is held to.
      const parent = extractContext(call.metadata, metadataGetter);
      const span = startSpan(method.path.slice(1), SpanKind.SERVER, spanAttributes, parent);
      const active = withIncomingDeadline(trace.setSpan(parent, span), context_.deadline);
      // Runs in `active` too: a promise's reactions run in the context they were attached in.
      const finish = (error: unknown, response?: unknown) => {
        const status = error === undefined ? { code: grpc.status.OK } : statusFor(error, method.path, logger);
        span.setAttribute("rpc.grpc.status_code", status.code!);
        if (SERVER_FAULTS.has(status.code!)) span.setStatus({ code: SpanStatusCode.ERROR, message: status.details ?? "" });
        span.end();
        const elapsedMs = performance.now() - started;
        metrics?.ended(status.code!, elapsedMs);
        logRpc(method.path, status.code!, elapsedMs, context_.peer, span.spanContext());
        if (error === undefined) callback(null, response);
        else callback(status);
      };
      context.with(active, () => {
        let answer: Promise<unknown>;
        try {
          if (call.request instanceof MalformedRequest) throw call.request.error(method.path);
          const handler = resolve()[name as keyof D] as (request: unknown, call: CallContext) => Promise<unknown>;
          answer = Promise.resolve(handler(call.request, context_));
        } catch (error) {
          answer = Promise.reject(error as Error);
        }
        answer.then(
          (response) => finish(undefined, response),
          (error: unknown) => finish(error ?? new Error("handler rejected without a reason")),
        );
      });
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  server.addService(tolerant, implementation);
}

/** Trace context read straight from gRPC metadata (the propagator asks for traceparent and tracestate only). */
const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const [value] = metadata.get(key);
    return value === undefined ? undefined : String(value);
  },
};

/** A handler's CallContext: its signal is made the first time it is asked for. */
class ServedCall implements CallContext {
  readonly metadata: grpc.Metadata;
  readonly deadline: number;
  readonly peer: string;

  constructor(private readonly call: grpc.ServerUnaryCall<unknown, unknown>) {
    this.metadata = call.metadata;
    this.deadline = deadlineMs(call.getDeadline());
    this.peer = call.getPeer();
  }

  get signal(): AbortSignal {
    return cancellationSignal(this.call);
  }
}

const signals = new WeakMap<grpc.ServerUnaryCall<unknown, unknown>, AbortSignal>();

/**
 * The reason every call's signal aborts with. abort() without one builds a new
 * DOMException, stack trace included, and grpc-js's "cancelled" comes at the
 * end of every call, answered ones too: 1.2% of the payments service's CPU.
 */
const CALL_ENDED = new DOMException("the call was cancelled or its deadline passed (or it has ended)", "AbortError");

/**
 * The call's AbortSignal, made the first time a handler asks for it. Most
 * handlers never do, and grpc-js reports "cancelled" also for calls that ended
 * normally: an eager controller per call showed up in profiles (see bench/).
 */
function cancellationSignal(call: grpc.ServerUnaryCall<unknown, unknown>): AbortSignal {
  let signal = signals.get(call);
  if (!signal) {
    const controller = new AbortController();
    if (call.cancelled) controller.abort(CALL_ENDED);
    else call.once("cancelled", () => controller.abort(CALL_ENDED));
    signal = controller.signal;
    signals.set(call, signal);
  }
  return signal;
}

function deadlineMs(deadline: grpc.Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * Request bytes that do not decode as the method's message. grpc-js would answer
 * INTERNAL for a throwing deserializer, but the fault is the client's: decoding
 * failures are carried to the handler adapter and answered INVALID_ARGUMENT.
 */
class MalformedRequest {
  constructor(private readonly reason: string) {}

  error(path: string): DomainError {
    return new DomainError("invalid", `request to ${path} is not a valid protobuf message: ${this.reason}`);
  }
}

function decodeOrMark<T>(decode: (bytes: Buffer) => T): (bytes: Buffer) => T | MalformedRequest {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (error) {
      return new MalformedRequest(error instanceof Error ? error.message : String(error));
    }
  };
}

function statusFor(error: unknown, path: string, logger: Logger): Partial<grpc.StatusObject> {
  if (error instanceof DomainError) return toStatus(error);
  logger.error({ err: error, rpc: path }, "unhandled error in handler");
  return { code: grpc.status.INTERNAL, details: "internal error" };
}

/** A handler set that answers UNAVAILABLE until `ready` is called (the database is still opening). */
export function startingHandlers<H>(serviceName: string): { resolve: () => H; ready: (handlers: H) => void } {
  let current: H | undefined;
  return {
    resolve: () => {
      if (current === undefined) throw unavailable(`${serviceName} is starting`);
      return current;
    },
    ready: (handlers) => {
      current = handlers;
    },
  };
}

const SERVER_FAULTS = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS, grpc.status.UNIMPLEMENTED]);

/**
 * One log line per RPC, with its trace id: method, status code, duration and
 * peer. A call that ends in a server fault is logged at error through pino; the
 * rest, nearly every call, by the RPC line writer (logger.ts), which skips
 * pino's general path: the line holds no request data.
 */
function rpcLogger(logger: Logger): (rpc: string, code: grpc.status, durationMs: number, peer: string, ids: SpanContext) => void {
  const writeLine = rpcLineWriter(logger);
  return (rpc, code, durationMs, peer, ids) => {
    const duration_ms = Math.round(durationMs * 1000) / 1000;
    if (SERVER_FAULTS.has(code)) {
      logger.error({ rpc, code: grpc.status[code], duration_ms, peer }, "rpc failed");
    } else {
      writeLine({ rpc, code: grpc.status[code], durationMs: duration_ms, peer, traceId: ids.traceId, spanId: ids.spanId });
    }
  };
}

/**
 * Server options of every service: a connection is closed (gracefully: GOAWAY,
 * then up to a minute for calls in flight) after about five minutes, so
 * long-lived clients resolve their target again and spread over new replicas.
 * Channelz is off: no service serves it, and grpc-js would otherwise count
 * every call and message for it (a tracker object per call, clock reads per
 * message).
 */
export const SERVER_OPTIONS: grpc.ServerOptions = {
  "grpc.max_connection_age_ms": 5 * 60_000,
  "grpc.max_connection_age_grace_ms": 60_000,
  "grpc.enable_channelz": 0,
};

/** Bind `server` to "host:port" and resolve with the bound port (useful with port 0). Plaintext unless given credentials. */
export function bindServer(
  server: grpc.Server,
  address: string,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(address, credentials, (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
}

/**
 * Stop taking calls and let in-flight ones finish; past `graceMs`, cut what is
 * left. Resolves true if everything finished in time.
 */
export function drainServer(server: grpc.Server, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve(false);
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
