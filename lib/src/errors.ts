/**
 * Errors a service raises on purpose, in the domain's words. A kind says what
 * went wrong, never how a transport spells it: the gRPC server maps each kind
 * to a status once (grpc/status.ts), the gateway to an HTTP status once.
 * Anything else a handler throws is a bug: it becomes INTERNAL with a generic
 * message and is logged.
 */
export type ErrorKind =
  /** The request is wrong; its field violations say where. Retrying it unchanged never helps. */
  | "invalid"
  | "not-found"
  /** A concurrent attempt holds what this one needs ("still in progress"): retry soon. */
  | "conflict"
  /** The system's state refuses the request (out of stock, card declined, already rejected). */
  | "precondition-failed"
  /** This service or one it needs cannot do it now: retry later. */
  | "unavailable"
  /** A dependency did not answer in time. */
  | "timed-out"
  /** The caller gave up; nobody reads the answer. */
  | "cancelled";

export class DomainError extends Error {
  override name = "DomainError";
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly fieldViolations: readonly FieldViolation[] = [],
    /**
     * "never" when this service already retried the dependency that failed: a
     * caller that retried too would multiply the attempts of every hop on a
     * dependency that is down.
     */
    readonly retry: "allowed" | "never" = "allowed",
  ) {
    super(message);
  }
}

/** One bad field of a request, as google.rpc.BadRequest.FieldViolation. */
export interface FieldViolation {
  /** The field's proto name, with a path for nested fields: "items[2].quantity". */
  field: string;
  description: string;
}

export const invalid = (violations: readonly FieldViolation[]) =>
  new DomainError(
    "invalid",
    violations.map((v) => `${v.field}: ${v.description}`).join("; "),
    violations,
  );
export const notFound = (message: string) => new DomainError("not-found", message);
export const conflict = (message: string) => new DomainError("conflict", message);
export const preconditionFailed = (message: string) => new DomainError("precondition-failed", message);
export const unavailable = (message: string) => new DomainError("unavailable", message);
/** Unavailable because a dependency is down, after this service already retried it: callers must not retry. */
export const dependencyUnavailable = (message: string) => new DomainError("unavailable", message, [], "never");
export const timedOut = (message: string) => new DomainError("timed-out", message);
export const cancelled = (message: string) => new DomainError("cancelled", message);

/** Kinds that say the fault was passing, not in the request: the same request may succeed later. */
export const PASSING_KINDS: ReadonlySet<ErrorKind> = new Set(["conflict", "unavailable", "timed-out"]);

/** Collects a request's field violations, so a client learns every bad field at once. */
export class Violations {
  private readonly list: FieldViolation[] = [];

  add(field: string, description: string): this {
    this.list.push({ field, description });
    return this;
  }

  /** Throws an "invalid" error listing every violation, if there is any. */
  throwIfAny(): void {
    if (this.list.length > 0) throw invalid(this.list);
  }
}
