import { createHash } from "node:crypto";

/**
 * SHA-256 of deploy/dev.env's AUTH_JWT_SECRET, the development token key that
 * anyone can read. The gateway refuses that key unless BAZAAR_DEV_MODE is set.
 * A hash rather than the file: the key stays written in one place, and an image
 * or a deployment need not ship deploy/dev.env to be checked.
 * services/gateway/test/dev-key.test.ts fails if the two disagree.
 */
export const DEV_AUTH_SECRET_SHA256 = "9210ebbd912e9f8a281ef8f9939ff6fc0ccc7d9e8d9b3540defe1deb8d5a8d65";

export function isDevAuthSecret(secret: string): boolean {
  return createHash("sha256").update(secret).digest("hex") === DEV_AUTH_SECRET_SHA256;
}
