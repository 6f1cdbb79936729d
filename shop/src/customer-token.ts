import { webcrypto } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import { CUSTOMER_ID } from "./ids.js";

/**
 * Customers' bearer tokens: HS256 JWTs whose subject is the customer id, issued
 * by AUTH_JWT_ISSUER for AUTH_JWT_AUDIENCE (the gateway), with iat and exp.
 * The claims are defined here once, for the gateway that checks them and for
 * those that sign them: scripts/token.ts, the development console's demo
 * customers, the tests and the benchmarks.
 */

/** The gateway's AUTH_JWT_* settings: the HS256 key, and who issues tokens for whom. */
export interface TokenConfig {
  AUTH_JWT_SECRET: string;
  AUTH_JWT_ISSUER: string;
  AUTH_JWT_AUDIENCE: string;
}

export const DEFAULT_TTL_SECONDS = 60 * 60;

const ALGORITHM = "HS256";
/** Clocks of the issuer and of the gateway's host may differ a little. */
const CLOCK_TOLERANCE_SECONDS = 30;
/**
 * The oldest token accepted, whatever its expiry says: a key that leaked, or an
 * issuer that erred, cannot mint a token that works for months.
 */
export const MAX_TOKEN_AGE_SECONDS = 24 * 60 * 60;

/**
 * The HMAC key (the secret's UTF-8 bytes), made once per secret as a WebCrypto
 * key, the form jose works with: handed raw bytes or a KeyObject, it would
 * import a key on every request (bench/analysis.md).
 */
const keys = new Map<string, Promise<webcrypto.CryptoKey>>();
function keyOf(config: TokenConfig): Promise<webcrypto.CryptoKey> {
  let key = keys.get(config.AUTH_JWT_SECRET);
  if (!key) {
    const bytes = Buffer.from(config.AUTH_JWT_SECRET, "utf8");
    key = webcrypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(config.AUTH_JWT_SECRET, key);
  }
  return key;
}

export interface SignOptions {
  /** How long the token is valid; default an hour. */
  ttlSeconds?: number;
  /** Epoch milliseconds the token counts as issued at; default now (tests back-date it to get an expired token). */
  issuedAtMs?: number;
}

/** A token proving `customerId` to the gateway. */
export async function signCustomerToken(config: TokenConfig, customerId: string, options: SignOptions = {}): Promise<string> {
  if (!CUSTOMER_ID.test(customerId)) throw new Error("a customer id is 1-64 characters of A-Z, a-z, 0-9, _ and -");
  const issuedAt = Math.floor((options.issuedAtMs ?? Date.now()) / 1000);
  return new SignJWT()
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(customerId)
    .setIssuer(config.AUTH_JWT_ISSUER)
    .setAudience(config.AUTH_JWT_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + (options.ttlSeconds ?? DEFAULT_TTL_SECONDS))
    .sign(await keyOf(config));
}

/** Why a token was refused, in words fit for the client (never the token itself). */
export class InvalidToken extends Error {
  override name = "InvalidToken";
}

/** What a valid token proves, and until when (epoch ms) it is accepted: its expiry plus the clock tolerance. */
export interface VerifiedToken {
  customerId: string;
  validUntilMs: number;
}

/** The customer id `token` proves at `now`; throws InvalidToken if it proves nothing. */
export async function verifyCustomerToken(config: TokenConfig, token: string, now = new Date()): Promise<VerifiedToken> {
  let claims: { sub?: unknown; exp?: unknown; iat?: unknown };
  try {
    ({ payload: claims } = await jwtVerify(token, await keyOf(config), {
      // Only HS256: a token must not choose how it is checked ("none", or a public key used as an HMAC secret).
      algorithms: [ALGORITHM],
      // A JWT meant for this: not another kind of token signed with the same key (an "at+jwt", a logout token).
      typ: "JWT",
      maxTokenAge: MAX_TOKEN_AGE_SECONDS,
      issuer: config.AUTH_JWT_ISSUER,
      audience: config.AUTH_JWT_AUDIENCE,
      requiredClaims: ["sub", "iat", "exp"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: now,
    }));
  } catch (error) {
    throw new InvalidToken(reasonOf(error));
  }
  if (typeof claims.sub !== "string" || !CUSTOMER_ID.test(claims.sub)) throw new InvalidToken('the token\'s "sub" claim is not a customer id');
  // Accepted until it expires or grows too old, whichever comes first (a remembered token too).
  const until = Math.min(Number(claims.exp), Number(claims.iat) + MAX_TOKEN_AGE_SECONDS);
  return { customerId: claims.sub, validUntilMs: (until + CLOCK_TOLERANCE_SECONDS) * 1000 };
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `the token's "${error.claim}" claim is ${error.reason === "missing" ? "missing" : "not valid here"}`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  if (error instanceof errors.JOSEAlgNotAllowed) return `the token must be signed with ${ALGORITHM}`;
  if (error instanceof errors.JOSEError) return "the token is not a well-formed JWT";
  // Not a verdict on the token: a bug, which the gateway answers 500 and logs.
  throw error;
}
