import { createSecretKey, type KeyObject } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import { CUSTOMER_ID } from "@bazaar/runtime/ids";
// Type only (erased): config.ts imports this module's defaults.
import type { AuthConfig } from "./config.js";

/**
 * Customers' bearer tokens: HS256 JWTs whose subject is the customer id, issued
 * by AUTH_JWT_ISSUER for AUTH_JWT_AUDIENCE (the gateway), with iat and exp.
 * The claims are defined here once, for the gateway that checks them and for
 * scripts/token.ts and the tests that sign them.
 */

export const DEFAULT_ISSUER = "bazaar";
export const DEFAULT_AUDIENCE = "bazaar-gateway";
/** HS256 wants a key at least as long as its 256-bit hash; 32 characters is that much at the very least. */
export const MIN_SECRET_LENGTH = 32;
export const DEFAULT_TTL_SECONDS = 60 * 60;

const ALGORITHM = "HS256";
/** Clocks of the issuer and of the gateway's host may differ a little. */
const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * The HMAC key (the secret's UTF-8 bytes), made once per secret: handed raw
 * bytes, jose would import a key on every request (token checks are ~13% of
 * the gateway's busy time under load, bench/analysis.md).
 */
const keys = new Map<string, KeyObject>();
function keyOf(config: AuthConfig): KeyObject {
  let key = keys.get(config.AUTH_JWT_SECRET);
  if (!key) {
    key = createSecretKey(Buffer.from(config.AUTH_JWT_SECRET, "utf8"));
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
export async function signCustomerToken(config: AuthConfig, customerId: string, options: SignOptions = {}): Promise<string> {
  if (!CUSTOMER_ID.test(customerId)) throw new Error("a customer id is 1-64 characters of A-Z, a-z, 0-9, _ and -");
  const issuedAt = Math.floor((options.issuedAtMs ?? Date.now()) / 1000);
  return new SignJWT()
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(customerId)
    .setIssuer(config.AUTH_JWT_ISSUER)
    .setAudience(config.AUTH_JWT_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + (options.ttlSeconds ?? DEFAULT_TTL_SECONDS))
    .sign(keyOf(config));
}

/** Why a token was refused, in words fit for the client (never the token itself). */
export class InvalidToken extends Error {
  override name = "InvalidToken";
}

/** The customer id `token` proves; throws InvalidToken if it proves nothing. */
export async function verifyCustomerToken(config: AuthConfig, token: string): Promise<string> {
  let subject: unknown;
  try {
    const { payload } = await jwtVerify(token, keyOf(config), {
      // Only HS256: a token must not choose how it is checked ("none", or a public key used as an HMAC secret).
      algorithms: [ALGORITHM],
      issuer: config.AUTH_JWT_ISSUER,
      audience: config.AUTH_JWT_AUDIENCE,
      requiredClaims: ["sub", "iat", "exp"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
    subject = payload.sub;
  } catch (error) {
    throw new InvalidToken(reasonOf(error));
  }
  if (typeof subject !== "string" || !CUSTOMER_ID.test(subject)) throw new InvalidToken('the token\'s "sub" claim is not a customer id');
  return subject;
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
