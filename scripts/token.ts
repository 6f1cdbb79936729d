/**
 * A development bearer token for the gateway's customer endpoints:
 *
 *   npm run -s token -- <customer-id> [--ttl <seconds>]
 *
 * prints the JWT (one line, nothing else), signed with AUTH_JWT_SECRET from the
 * environment, else from deploy/dev.env, valid for an hour unless --ttl says
 * otherwise. The claims are the gateway's own (services/gateway/src/auth.ts).
 * Exit 2: bad arguments; 78: bad AUTH_JWT_* configuration.
 */
import { parseArgs } from "node:util";
import { ConfigError, EXIT_CONFIG } from "@bazaar/runtime/config";
import { checkCustomerId } from "@bazaar/shop/ids";
import { DomainError, Violations } from "@bazaar/runtime/errors";
import { DEFAULT_TTL_SECONDS, signCustomerToken } from "@bazaar/shop/customer-token";
import { devAuthConfig } from "./dev-env.js";

const USAGE = "usage: npm run -s token -- <customer-id> [--ttl <seconds>]";

function usageError(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function argumentsOf(): { customerId: string; ttlSeconds: number } {
  let parsed;
  try {
    parsed = parseArgs({ options: { ttl: { type: "string" } }, allowPositionals: true, strict: true });
  } catch (error) {
    usageError((error as Error).message);
  }
  const [customerId, ...extra] = parsed.positionals;
  if (customerId === undefined || extra.length > 0) usageError("expected exactly one customer id");
  // The orders service's rule for customer ids, so the token names a customer it accepts.
  try {
    const violations = new Violations();
    checkCustomerId(customerId, violations, "customer id");
    violations.throwIfAny();
  } catch (error) {
    if (error instanceof DomainError) usageError(error.message);
    throw error;
  }
  const ttl = parsed.values.ttl ?? String(DEFAULT_TTL_SECONDS);
  if (!/^[1-9]\d{0,8}$/.test(ttl)) usageError(`--ttl must be a whole number of seconds, at least 1 (got ${JSON.stringify(ttl)})`);
  return { customerId, ttlSeconds: Number(ttl) };
}

const { customerId, ttlSeconds } = argumentsOf();
let config;
try {
  config = devAuthConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(EXIT_CONFIG);
}
process.stdout.write(`${await signCustomerToken(config, customerId, { ttlSeconds })}\n`);
