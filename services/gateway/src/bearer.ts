import { ExpiringMap } from "@bazaar/runtime/expiring-map";
import { InvalidToken, type VerifiedToken, verifyCustomerToken } from "@bazaar/shop/customer-token";
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
export function bearerAuthentication(config: AuthConfig, now: () => number = Date.now, verify = verifyCustomerToken): Authenticate {
  // Tokens this gateway has verified, until they stop being valid. A customer sends the same
  // token with every request, and checking it again (jose, WebCrypto) is a large share of the
  // gateway's CPU under load (bench/analysis.md has the figures). The key is the whole token,
  // signature included, so a hit is a token verified here before; a token that failed is never
  // kept. When full, the oldest entry goes.
  const verified = new ExpiringMap<string, VerifiedToken>(10_000);
  // A client sends its first requests with a new token in parallel: they share one check.
  const checking = new Map<string, Promise<VerifiedToken>>();
  return async (authorization) => {
    const header = authorization?.trim() ?? "";
    if (header === "" || /^Bearer$/i.test(header)) throw unauthorized(NEEDS_TOKEN);
    if (!BEARER_SCHEME.test(header)) throw unauthorized('the Authorization header must use the Bearer scheme: "Bearer <token>"');
    const token = BEARER.exec(header)?.groups?.token;
    if (token === undefined) throw unauthorized('the Authorization header must be "Bearer <token>", the token in JWT compact form', { invalidToken: true });
    try {
      const at = now();
      const known = verified.get(token, at);
      if (known) return known.customerId;
      let check = checking.get(token);
      if (check === undefined) {
        check = verify(config, token, new Date(at)).finally(() => checking.delete(token));
        checking.set(token, check);
      }
      const fresh = await check;
      verified.set(token, fresh, fresh.validUntilMs);
      return fresh.customerId;
    } catch (error) {
      if (error instanceof InvalidToken) throw unauthorized(error.message, { invalidToken: true });
      throw error;
    }
  };
}
