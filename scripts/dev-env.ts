/**
 * The development settings of deploy/dev.env, for what runs the shop locally
 * (scripts/mesh.ts, scripts/token.ts, the test and benchmark meshes). A variable
 * set in the environment wins, so a developer can try another value without
 * editing the file.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { parseConfig } from "@bazaar/runtime/config";
import { type AuthConfig, authConfig } from "../services/gateway/src/config.js";

export const DEV_ENV_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "deploy", "dev.env");

/** deploy/dev.env's variables as written. */
export function devEnvFile(): Record<string, string> {
  return parseEnv(readFileSync(DEV_ENV_FILE, "utf8")) as Record<string, string>;
}

/** The gateway's token key for a local mesh: AUTH_JWT_SECRET from the environment, else from deploy/dev.env. */
export function devAuthSecret(): string {
  const secret = process.env.AUTH_JWT_SECRET || devEnvFile().AUTH_JWT_SECRET;
  if (!secret) throw new Error(`AUTH_JWT_SECRET is neither in the environment nor in ${DEV_ENV_FILE}`);
  return secret;
}

/** The token settings of a local mesh's gateway, to sign dev tokens with; throws ConfigError if they are bad. */
export function devAuthConfig(): AuthConfig {
  return parseConfig(authConfig, { ...process.env, AUTH_JWT_SECRET: devAuthSecret() });
}

/** A service's database password in every development setup: the runtime's rule, which services refuse outside development. */
export { devDatabasePassword } from "@bazaar/runtime/dev-mode";
