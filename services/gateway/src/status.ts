import { status, type ServiceError } from "@grpc/grpc-js";
import { type DomainError, type FieldViolation } from "@bazaar/runtime/errors";
import { fieldViolationsOf, grpcCodeOf } from "@bazaar/runtime/grpc/status";

/** The JSON error body of every failed request, whether the gateway or a service refused it. */
export interface ErrorBody {
  error: {
    /** A gRPC status code name, e.g. "INVALID_ARGUMENT", so HTTP and gRPC clients share one vocabulary. */
    code: string;
    message: string;
    field_violations?: FieldViolation[];
  };
}

/**
 * gRPC status → HTTP status, after google.rpc.Code's documented mapping. A code
 * not listed (INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED, CANCELLED, ...) is a
 * fault of the service behind us, so the gateway answers 502 Bad Gateway rather
 * than claiming the failure as its own 500.
 */
const HTTP_STATUS: ReadonlyMap<status, number> = new Map([
  [status.INVALID_ARGUMENT, 400],
  [status.OUT_OF_RANGE, 400],
  [status.UNAUTHENTICATED, 401],
  [status.PERMISSION_DENIED, 403],
  [status.NOT_FOUND, 404],
  [status.ALREADY_EXISTS, 409],
  [status.ABORTED, 409],
  [status.FAILED_PRECONDITION, 409],
  [status.RESOURCE_EXHAUSTED, 429],
  [status.UNAVAILABLE, 503],
  [status.DEADLINE_EXCEEDED, 504],
]);

export function httpStatusOf(code: status): number {
  return HTTP_STATUS.get(code) ?? 502;
}

/** The status name for a code: 5 → "NOT_FOUND"; a code grpc-js does not know stays a number. */
export function codeNameOf(code: status): string {
  return status[code] ?? String(code);
}

/** True for a failed call of a grpc-js client (what createClient's promises reject with). */
export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as ServiceError).code === "number" && typeof (error as ServiceError).details === "string";
}

/**
 * What a client is told when a downstream call fails. A 4xx message was written
 * by the service for the caller ("product x not found"), so it passes through
 * with the field violations. A 5xx message comes from the transport or a broken
 * service ("connect ECONNREFUSED 10.0.3.7:50053") and would leak the mesh's
 * insides to the internet: the client gets the code and a generic sentence, and
 * the details go to the gateway's log instead.
 */
export function errorResponseOf(error: ServiceError): { status: number; body: ErrorBody } {
  const httpStatus = httpStatusOf(error.code);
  const code = codeNameOf(error.code);
  if (httpStatus >= 500) return { status: httpStatus, body: { error: { code, message: SERVER_SIDE_MESSAGE[httpStatus] ?? "" } } };
  const violations = violationsOf(error);
  return {
    status: httpStatus,
    body: { error: { code, message: error.details, ...(violations.length > 0 ? { field_violations: violations } : {}) } },
  };
}

/** What a client is told when the gateway itself refuses a request in the domain's words (a bad field, an unknown path). */
export function domainErrorResponseOf(error: DomainError): { status: number; body: ErrorBody } {
  const code = grpcCodeOf(error.kind);
  const violations = error.fieldViolations.length > 0 ? { field_violations: [...error.fieldViolations] } : {};
  return { status: httpStatusOf(code), body: { error: { code: codeNameOf(code), message: error.message, ...violations } } };
}

const SERVER_SIDE_MESSAGE: Record<number, string> = {
  502: "a service behind the gateway failed",
  503: "a service behind the gateway is unavailable; try again later",
  504: "a service behind the gateway did not answer in time",
};

/** google.rpc.BadRequest details of the call, if any. Undecodable details are the service's bug, not a reason to fail the answer. */
function violationsOf(error: ServiceError): FieldViolation[] {
  try {
    return fieldViolationsOf(error);
  } catch {
    return [];
  }
}
