import { Metadata, status, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { BadRequest } from "@bazaar/gen/google/rpc/error_details";
import { Status } from "@bazaar/gen/google/rpc/status";
import { dependencyUnavailable, DomainError, type ErrorKind, type FieldViolation } from "../errors.js";

/**
 * Where domain errors become gRPC statuses (a server's answers) and statuses
 * become domain errors again (a downstream's answers): the one place that knows both.
 */

const CODE_OF: Readonly<Record<ErrorKind, status>> = {
  invalid: status.INVALID_ARGUMENT,
  "not-found": status.NOT_FOUND,
  conflict: status.ABORTED,
  "precondition-failed": status.FAILED_PRECONDITION,
  unavailable: status.UNAVAILABLE,
  "timed-out": status.DEADLINE_EXCEEDED,
  cancelled: status.CANCELLED,
};

/** The gRPC status code of a kind. */
export const grpcCodeOf = (kind: ErrorKind): status => CODE_OF[kind];

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

/**
 * The status a server sends for a DomainError: google.rpc.Status details (with
 * BadRequest for field violations) in the standard trailer, and retry pushback
 * -1 (do not retry, gRFC A6) when the error says so.
 */
export function toStatus(error: DomainError): Partial<StatusObject> {
  const code = grpcCodeOf(error.kind);
  const metadata = new Metadata();
  const violations = boundedViolations(error.fieldViolations);
  const message = boundedMessage(error.message, error.fieldViolations.length - violations.length);
  const details =
    violations.length === 0
      ? []
      : [{ typeUrl: BAD_REQUEST_TYPE_URL, value: Buffer.from(BadRequest.encode(badRequestOf(violations)).finish()) }];
  const body = Status.encode({ code, message, details }).finish();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(body));
  if (error.retry === "never") metadata.set(RETRY_PUSHBACK_KEY, "-1");
  return { code, details: message, metadata };
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

/**
 * A downstream's failed call as this service's own error. The caller's mistakes
 * the downstream reported (not found, a refused precondition, a bad field) keep
 * their kind and words; a dependency too slow is "timed-out"; anything else
 * (no connection, a broken or overloaded dependency) is "<dependency> is
 * unavailable", not to be retried: the client already retried what it could.
 * Those words may reach a customer; the dependency's own details (addresses,
 * connection errors) belong in the caller's log.
 */
export function fromDownstream(error: unknown, dependency: string): DomainError {
  if (error instanceof DomainError) return error;
  const { code, details } = error as ServiceError;
  switch (code) {
    case status.NOT_FOUND:
      return new DomainError("not-found", details);
    case status.FAILED_PRECONDITION:
      return new DomainError("precondition-failed", details);
    case status.INVALID_ARGUMENT:
      return new DomainError("invalid", details, fieldViolationsOf(error as ServiceError));
    case status.DEADLINE_EXCEEDED:
      return new DomainError("timed-out", `${dependency} did not answer in time`);
    default:
      return dependencyUnavailable(`${dependency} is unavailable`);
  }
}
