import { InvalidToken, verifyCustomerToken } from "./auth.js";
import type { AuthConfig } from "./config.js";
import { unauthorized } from "./http-error.js";

/** The customer id a request's Authorization header proves, or a 401 HttpError. */
export type Authenticate = (authorization: string | undefined) => Promise<string>;

/** RFC 6750: "Bearer" (any case), one or more spaces, then the token (token68 characters). */
const BEARER = /^Bearer +(?<token>[A-Za-z0-9\-._~+/]+=*) *$/i;
const BEARER_SCHEME = /^Bearer(?: |$)/i;
const NEEDS_TOKEN = "this endpoint needs a customer's token: send Authorization: Bearer <token>";

/**
 * Authorization: Bearer <jwt> → the token's customer id. A request without a
 * bearer token is told it needs one; a request whose token fails is told why
 * (expired, bad signature, ...) with error="invalid_token". The token itself is
 * never repeated: not to the client, not to the log.
 */
export function bearerAuthentication(config: AuthConfig): Authenticate {
  return async (authorization) => {
    const header = authorization?.trim() ?? "";
    if (header === "" || /^Bearer$/i.test(header)) throw unauthorized(NEEDS_TOKEN);
    if (!BEARER_SCHEME.test(header)) throw unauthorized('the Authorization header must use the Bearer scheme: "Bearer <token>"');
    const token = BEARER.exec(header)?.groups?.token;
    if (token === undefined) throw unauthorized('the Authorization header must be "Bearer <token>", the token in JWT compact form', { invalidToken: true });
    try {
      return await verifyCustomerToken(config, token);
    } catch (error) {
      if (error instanceof InvalidToken) throw unauthorized(error.message, { invalidToken: true });
      throw error;
    }
  };
}
