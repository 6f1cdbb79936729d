import { status } from "@grpc/grpc-js";
import { DomainError } from "@bazaar/runtime/errors";

/**
 * A refusal only HTTP has words for, made by the gateway before any service
 * sees the request: no or a bad token, a wrong method, a body too large or not
 * JSON. It carries the HTTP status, its headers and the gRPC code name the
 * error body shows, so a refusal by the gateway reads exactly like a refusal by
 * a service. Everything else the gateway refuses (a malformed body, an unknown
 * path) is a runtime DomainError, mapped to HTTP like a service's answer.
 */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly httpStatus: number,
    readonly code: status,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** 400: the request is malformed as a whole (not JSON, no Idempotency-Key); a bad field is the runtime's Violations. */
export const badRequest = (message: string) => new DomainError("invalid", message);

/**
 * 401 for a customer route without a valid bearer token. WWW-Authenticate says
 * the scheme, and error="invalid_token" when a token was sent but refused (RFC 6750).
 */
export const unauthorized = (message: string, { invalidToken = false } = {}) =>
  new HttpError(401, status.UNAUTHENTICATED, message, { "www-authenticate": invalidToken ? 'Bearer error="invalid_token"' : "Bearer" });

/** 403: the customer is known, and is not allowed to do this (e.g. order for someone else). */
export const forbidden = (message: string) => new HttpError(403, status.PERMISSION_DENIED, message);

// grpc-gateway answers a known path with the wrong method as UNIMPLEMENTED; so do we.
export const methodNotAllowed = (method: string, allow: readonly string[]) =>
  new HttpError(405, status.UNIMPLEMENTED, `method ${method} is not allowed here; use ${allow.join(" or ")}`, { allow: allow.join(", ") });

// gRPC itself answers RESOURCE_EXHAUSTED for a message over the size limit. The rest
// of the body is unread, so the connection closes rather than reading it to its end.
export const payloadTooLarge = (limitBytes: number) =>
  new HttpError(413, status.RESOURCE_EXHAUSTED, `request body is larger than ${limitBytes} bytes`, { connection: "close" });

export const unsupportedMediaType = (contentType: string | undefined) =>
  new HttpError(
    415,
    status.INVALID_ARGUMENT,
    `content-type must be application/json (got ${contentType === undefined ? "none" : JSON.stringify(contentType)})`,
  );
