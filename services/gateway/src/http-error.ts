import { status } from "@grpc/grpc-js";
import { type FieldViolation } from "@bazaar/runtime/errors";

/**
 * A request the gateway refuses itself, before any service sees it: malformed
 * JSON, a wrong type, a missing header, an unknown path. It carries the HTTP
 * status and the gRPC code name the error body shows, so a refusal by the
 * gateway reads exactly like a refusal by a service.
 */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly httpStatus: number,
    readonly code: status,
    message: string,
    readonly fieldViolations: readonly FieldViolation[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, status.INVALID_ARGUMENT, message);

/** 400 listing every bad field, worded like the services' INVALID_ARGUMENT ("items[0].quantity: must be ..."). */
export const invalidFields = (violations: readonly FieldViolation[]) =>
  new HttpError(400, status.INVALID_ARGUMENT, violations.map((v) => `${v.field}: ${v.description}`).join("; "), violations);

/**
 * 401 for a customer route without a valid bearer token. WWW-Authenticate says
 * the scheme, and error="invalid_token" when a token was sent but refused (RFC 6750).
 */
export const unauthorized = (message: string, { invalidToken = false } = {}) =>
  new HttpError(401, status.UNAUTHENTICATED, message, [], { "www-authenticate": invalidToken ? 'Bearer error="invalid_token"' : "Bearer" });

/** 403: the customer is known, and is not allowed to do this (e.g. order for someone else). */
export const forbidden = (message: string) => new HttpError(403, status.PERMISSION_DENIED, message);

export const notFound = (message: string) => new HttpError(404, status.NOT_FOUND, message);

// grpc-gateway answers a known path with the wrong method as UNIMPLEMENTED; so do we.
export const methodNotAllowed = (method: string, allow: readonly string[]) =>
  new HttpError(405, status.UNIMPLEMENTED, `method ${method} is not allowed here; use ${allow.join(" or ")}`, [], { allow: allow.join(", ") });

// gRPC itself answers RESOURCE_EXHAUSTED for a message over the size limit. The rest
// of the body is unread, so the connection closes rather than reading it to its end.
export const payloadTooLarge = (limitBytes: number) =>
  new HttpError(413, status.RESOURCE_EXHAUSTED, `request body is larger than ${limitBytes} bytes`, [], { connection: "close" });

export const unsupportedMediaType = (contentType: string | undefined) =>
  new HttpError(
    415,
    status.INVALID_ARGUMENT,
    `content-type must be application/json (got ${contentType === undefined ? "none" : JSON.stringify(contentType)})`,
  );
