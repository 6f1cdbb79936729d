import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEV_AUTH_SECRET_SHA256, isDevAuthSecret } from "../src/dev-key.js";
import { DEV_ENV_FILE, devEnvFile } from "../../../scripts/dev-env.js";

describe("the development token key the gateway refuses (src/dev-key.ts)", () => {
  it("is deploy/dev.env's, by its hash: change one, change the other", () => {
    const key = devEnvFile().AUTH_JWT_SECRET!;
    const hash = createHash("sha256").update(key).digest("hex");
    expect(hash, `${DEV_ENV_FILE}'s AUTH_JWT_SECRET changed: set DEV_AUTH_SECRET_SHA256 in services/gateway/src/dev-key.ts to its SHA-256`).toBe(DEV_AUTH_SECRET_SHA256);
    expect(isDevAuthSecret(key)).toBe(true);
  });

  it("is that key alone, not one that merely resembles it", () => {
    const key = devEnvFile().AUTH_JWT_SECRET!;
    for (const other of [`${key} `, key.slice(1), key.toUpperCase()]) expect(isDevAuthSecret(other), other).toBe(false);
  });
});
