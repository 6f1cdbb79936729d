import * as grpc from "@grpc/grpc-js";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  type BulkheadPolicy,
  circuitBreaker,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  handleWhen,
  TaskCancelledError,
} from "cockatiel";
import { contractRegistry } from "../contracts.js";
import { type Logger } from "../logger.js";
import { CIRCUIT_STATE, clientResilienceMetrics } from "../observability/metrics.js";
import { RETRY_PUSHBACK_KEY } from "./status.js";

/**
 * What keeps one downstream's trouble from becoming ours: retries for the
 * methods whose contract says they are safe to repeat, a circuit breaker that
 * fails calls at once while the downstream is down, and a bulkhead that caps
 * how many calls wait on it. One set per client, i.e. per downstream.
 */

export interface RetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** The backoff before the n-th retry is a random pause in [0, min(maxBackoffMs, initialBackoffMs × 2^(n-1))) ("full jitter"). */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** The statuses worth another attempt. */
  retryOn: readonly grpc.status[];
}

export interface BreakerOptions {
  /** This many failures of the downstream in a row (see isDependencyFailure) open the circuit. */
  consecutiveFailures: number;
  /** An open circuit lets one trial call through after this long; its success closes the circuit. */
  halfOpenAfterMs: number;
}

export interface BulkheadOptions {
  /** Calls in flight to the downstream at once. */
  maxConcurrent: number;
  /** Calls waiting for a slot; beyond that, RESOURCE_EXHAUSTED at once. */
  maxQueued: number;
}

export interface ResilienceOptions {
  /** Names the downstream in logs and metrics ("payments"); defaults to the address. */
  target?: string;
  /** Where circuit state changes are logged; silent without one. */
  logger?: Logger;
  /** false: never retry, whatever the contract says. */
  retry?: Partial<RetryOptions> | false;
  /** false: no circuit breaker. */
  breaker?: Partial<BreakerOptions> | false;
  /** false: no limit on concurrent calls. */
  bulkhead?: Partial<BulkheadOptions> | false;
}

/**
 * Only UNAVAILABLE is retried: it says the request was not processed (or the
 * server is not there), the one case where another attempt can help.
 * DEADLINE_EXCEEDED leaves no budget; RESOURCE_EXHAUSTED comes from our own
 * bulkhead or an overloaded server, which more traffic makes worse; ABORTED is
 * a conflict the caller should resolve (orders' "still being placed; retry"),
 * not something to hide in the transport.
 */
export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 3,
  initialBackoffMs: 50,
  maxBackoffMs: 1000,
  retryOn: [grpc.status.UNAVAILABLE],
};

export const DEFAULT_BREAKER: BreakerOptions = { consecutiveFailures: 5, halfOpenAfterMs: 5000 };

export const DEFAULT_BULKHEAD: BulkheadOptions = { maxConcurrent: 100, maxQueued: 50 };

/**
 * A call failed here, in the client, without reaching the downstream: an open
 * circuit, a full bulkhead, a deadline already spent. It looks like grpc-js's
 * ServiceError, so callers handle it the same way; it never counts against the
 * downstream's breaker and is never retried.
 */
export class LocalCallFailure extends Error implements grpc.ServiceError {
  override name = "LocalCallFailure";
  readonly metadata = new grpc.Metadata();
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${code} ${grpc.status[code]}: ${details}`);
  }
}

const codeOf = (error: unknown): grpc.status | undefined =>
  typeof error === "object" && error !== null ? (error as Partial<grpc.ServiceError>).code : undefined;

/** The trailer in which a server sends a google.rpc.Status with its answer (Bazaar's servers always do, see errors.ts). */
const STATUS_DETAILS_KEY = "grpc-status-details-bin";

/**
 * A failure of the downstream itself: no connection, the connection dropped, or
 * no answer before the deadline. A client's mistake (NOT_FOUND, ...) is not one.
 * Neither is an UNAVAILABLE the downstream answered on purpose, with a
 * google.rpc.Status: it is up and reports trouble further down (orders while
 * payments is down). Its own breaker guards that dependency; counting it here
 * would cut callers off from every method of a healthy downstream.
 */
export function isDependencyFailure(error: unknown): boolean {
  if (error instanceof LocalCallFailure) return false;
  const code = codeOf(error);
  if (code !== grpc.status.UNAVAILABLE && code !== grpc.status.DEADLINE_EXCEEDED) return false;
  const answered = (error as Partial<grpc.ServiceError>).metadata?.get(STATUS_DETAILS_KEY).length ?? 0;
  return answered === 0;
}

const retryableMethods = new Map<string, boolean>();

/**
 * True if the contract declares `path` ("/pkg.Service/Method") NO_SIDE_EFFECTS
 * or IDEMPOTENT, read from the compiled descriptors. A method without the
 * option, or unknown to the contracts, is never retried.
 */
export function isRetryableMethod(path: string): boolean {
  let retryable = retryableMethods.get(path);
  if (retryable === undefined) {
    const [, serviceName = "", methodName = ""] = path.split("/");
    const service = contractRegistry().getService(serviceName);
    const method = service?.methods.find((m) => m.name === methodName);
    retryable =
      method?.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
      method?.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT;
    retryableMethods.set(path, retryable);
  }
  return retryable;
}

/**
 * Run `attempt` until it succeeds, fails with a status not worth retrying, runs
 * out of attempts, or the next pause would end past `deadline`; then the last
 * error is the answer. `retry` undefined: one attempt.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  retry: RetryOptions | undefined,
  deadline: number,
  signal: AbortSignal | undefined,
  onRetry: (error: grpc.ServiceError) => void,
): Promise<T> {
  for (let attemptNo = 1; ; attemptNo++) {
    try {
      return await attempt();
    } catch (error) {
      const code = codeOf(error);
      const worthIt = retry !== undefined && attemptNo < retry.maxAttempts && code !== undefined && retry.retryOn.includes(code);
      if (!worthIt || error instanceof LocalCallFailure || signal?.aborted) throw error;
      // The server's word wins (gRFC A6): negative pushback = it already retried downstream; else its pause.
      const pushback = pushbackOf(error);
      if (pushback !== undefined && pushback < 0) throw error;
      const ceiling = Math.min(retry.maxBackoffMs, retry.initialBackoffMs * 2 ** (attemptNo - 1));
      const pause = pushback ?? Math.random() * ceiling;
      if (Date.now() + pause >= deadline) throw error;
      onRetry(error as grpc.ServiceError);
      await sleep(pause, signal);
    }
  }
}

/** grpc-retry-pushback-ms of a failed call: a whole number of ms, negative for "do not retry"; undefined if absent or malformed. */
function pushbackOf(error: unknown): number | undefined {
  const value = (error as Partial<grpc.ServiceError>).metadata?.get(RETRY_PUSHBACK_KEY)[0];
  return typeof value === "string" && /^-?\d{1,9}$/.test(value) ? Number(value) : undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * The circuit breaker and bulkhead of one downstream. The breaker is outside
 * the bulkhead, so an open circuit fails a call before it waits for a slot.
 */
export class DownstreamGuard {
  private readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly bulkhead: BulkheadPolicy | undefined;

  constructor(
    readonly target: string,
    options: ResilienceOptions,
  ) {
    if (options.breaker !== false) {
      const settings = { ...DEFAULT_BREAKER, ...options.breaker };
      this.breaker = circuitBreaker(handleWhen(isDependencyFailure), {
        halfOpenAfter: settings.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(settings.consecutiveFailures),
      });
      this.watchBreaker(this.breaker, options.logger);
    }
    if (options.bulkhead !== false) {
      const settings = { ...DEFAULT_BULKHEAD, ...options.bulkhead };
      this.bulkhead = bulkhead(settings.maxConcurrent, settings.maxQueued);
    }
  }

  /** Run one attempt through the breaker and the bulkhead; their refusals become UNAVAILABLE and RESOURCE_EXHAUSTED. */
  async run<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const limited = () => (this.bulkhead ? this.bulkhead.execute(attempt, signal) : attempt());
    try {
      return await (this.breaker ? this.breaker.execute(limited, signal) : limited());
    } catch (error) {
      throw this.translate(error);
    }
  }

  private translate(error: unknown): unknown {
    if (error instanceof BrokenCircuitError) {
      clientResilienceMetrics.rejected.inc({ target: this.target, reason: "circuit_open" });
      return new LocalCallFailure(grpc.status.UNAVAILABLE, `${this.target} circuit open`);
    }
    if (error instanceof BulkheadRejectedError) {
      clientResilienceMetrics.rejected.inc({ target: this.target, reason: "bulkhead_full" });
      return new LocalCallFailure(grpc.status.RESOURCE_EXHAUSTED, `${this.target} has too many calls in flight`);
    }
    if (error instanceof TaskCancelledError) return new LocalCallFailure(grpc.status.CANCELLED, "call cancelled by the caller");
    return error;
  }

  private watchBreaker(breaker: CircuitBreakerPolicy, logger: Logger | undefined): void {
    const gauge = clientResilienceMetrics.breakerState;
    gauge.set({ target: this.target }, CIRCUIT_STATE.closed);
    breaker.onBreak((reason) => {
      gauge.set({ target: this.target }, CIRCUIT_STATE.open);
      const cause = "error" in reason ? (reason.error as Partial<grpc.ServiceError>).details ?? String(reason.error) : "isolated";
      logger?.warn({ target: this.target, circuit: "open", cause }, "circuit breaker opened: calls fail at once");
    });
    breaker.onHalfOpen(() => {
      gauge.set({ target: this.target }, CIRCUIT_STATE.half_open);
      logger?.info({ target: this.target, circuit: "half_open" }, "circuit breaker half-open: one trial call");
    });
    breaker.onReset(() => {
      gauge.set({ target: this.target }, CIRCUIT_STATE.closed);
      logger?.info({ target: this.target, circuit: "closed" }, "circuit breaker closed");
    });
  }

  /** The breaker's state, for tests and diagnostics. */
  get circuit(): "closed" | "half_open" | "open" {
    switch (this.breaker?.state) {
      case CircuitState.Open:
      case CircuitState.Isolated:
        return "open";
      case CircuitState.HalfOpen:
        return "half_open";
      default:
        return "closed";
    }
  }
}
