import { Metadata, status, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { BadRequest } from "@bazaar/gen/google/rpc/error_details";
import { Status } from "@bazaar/gen/google/rpc/status";

/**
 * Errors a handler throws on purpose. Each carries a gRPC status code; the
 * server adapter turns it into a status for the client. Anything else a handler
 * throws is a bug: it becomes INTERNAL with a generic message and is logged.
 */
export class RpcError extends Error {
  override name = "RpcError";
  constructor(
    readonly code: status,
    message: string,
    readonly fieldViolations: readonly FieldViolation[] = [],
    /** Sent as grpc-retry-pushback-ms (gRFC A6): negative = do not retry, else wait this long first. */
    readonly retryPushbackMs?: number,
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

export const invalidArgument = (violations: readonly FieldViolation[]) =>
  new RpcError(
    status.INVALID_ARGUMENT,
    violations.map((v) => `${v.field}: ${v.description}`).join("; "),
    violations,
  );
export const notFound = (message: string) => new RpcError(status.NOT_FOUND, message);
export const failedPrecondition = (message: string) => new RpcError(status.FAILED_PRECONDITION, message);
export const unavailable = (message: string) => new RpcError(status.UNAVAILABLE, message);
/**
 * UNAVAILABLE because a dependency is down, after this service already retried
 * it: callers are told not to retry (pushback -1), or the retries of every hop
 * multiply (gateway × orders × payments attempts) on a dependency that is down.
 */
export const dependencyUnavailable = (message: string) => new RpcError(status.UNAVAILABLE, message, [], -1);

/** The trailer of gRFC A6 retry pushback. */
export const RETRY_PUSHBACK_KEY = "grpc-retry-pushback-ms";

const STATUS_DETAILS_KEY = "grpc-status-details-bin";
const BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest";

/**
 * A status travels in HTTP/2 trailers, which must stay small: Node refuses to
 * send a header block over 64 KiB and the call then never ends (the client
 * sees its deadline pass, and every other call on the connection is dropped).
 * So the field violations sent are bounded by size (every one of a real
 * request's fit; a hostile request with thousands gets the first ones named),
 * and a message is cut to a readable length.
 */
const MAX_VIOLATION_CHARS = 16_000;
const MAX_MESSAGE_LENGTH = 1024;

/** The status a server sends for an RpcError, with BadRequest details in the standard trailer. */
export function toStatus(error: RpcError): Partial<StatusObject> {
  const metadata = new Metadata();
  const violations = boundedViolations(error.fieldViolations);
  const message = boundedMessage(error.message, error.fieldViolations.length - violations.length);
  const details =
    violations.length === 0
      ? []
      : [{ typeUrl: BAD_REQUEST_TYPE_URL, value: Buffer.from(BadRequest.encode(badRequestOf(violations)).finish()) }];
  const body = Status.encode({ code: error.code, message, details }).finish();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(body));
  if (error.retryPushbackMs !== undefined) metadata.set(RETRY_PUSHBACK_KEY, String(Math.trunc(error.retryPushbackMs)));
  return { code: error.code, details: message, metadata };
}

function boundedViolations(all: readonly FieldViolation[]): FieldViolation[] {
  const kept: FieldViolation[] = [];
  let chars = 0;
  for (const violation of all) {
    const bounded = { field: violation.field.slice(0, 256), description: violation.description.slice(0, 256) };
    chars += bounded.field.length + bounded.description.length;
    if (chars > MAX_VIOLATION_CHARS) break;
    kept.push(bounded);
  }
  return kept;
}

function boundedMessage(message: string, omitted: number): string {
  const suffix = omitted > 0 ? ` (and ${omitted} more field violations)` : "";
  if (message.length + suffix.length <= MAX_MESSAGE_LENGTH) return message + suffix;
  return `${message.slice(0, MAX_MESSAGE_LENGTH - suffix.length - 1)}…${suffix}`;
}

function badRequestOf(violations: readonly FieldViolation[]): BadRequest {
  return {
    fieldViolations: violations.map((v) => ({ ...v, reason: "", localizedMessage: undefined })),
  };
}

/** The field violations a client received with an INVALID_ARGUMENT, empty if none. */
export function fieldViolationsOf(error: Pick<ServiceError, "metadata">): FieldViolation[] {
  const raw = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!(raw instanceof Buffer)) return [];
  return Status.decode(raw)
    .details.filter((any) => any.typeUrl === BAD_REQUEST_TYPE_URL)
    .flatMap((any) => BadRequest.decode(any.value).fieldViolations)
    .map(({ field, description }) => ({ field, description }));
}

/** Collects a request's field violations, so a client learns every bad field at once. */
export class Violations {
  private readonly list: FieldViolation[] = [];

  add(field: string, description: string): this {
    this.list.push({ field, description });
    return this;
  }

  /** Throws INVALID_ARGUMENT listing every violation, if there is any. */
  throwIfAny(): void {
    if (this.list.length > 0) throw invalidArgument(this.list);
  }
}
