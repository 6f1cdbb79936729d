import { z } from "zod";

/**
 * Development-only settings are committed for everyone to read: the gateway's
 * token key in deploy/dev.env and each service's database password
 * `<service>-dev`. A process refuses them unless this variable says that it
 * runs a development setup on purpose. `make up`, the test and benchmark
 * meshes, docker compose and the Kubernetes dev overlay set it; nothing real
 * may.
 */
export const DEV_MODE_VARIABLE = "BAZAAR_DEV_MODE";

/** BAZAAR_DEV_MODE as a boolean: "1" or "true" allow development-only settings; unset, "0" or "false" do not. */
export const devModeFlag = () =>
  z
    .enum(["1", "true", "0", "false"], { error: 'expected "1" (development-only settings allowed) or "0"' })
    .default("0")
    .transform((value) => value === "1" || value === "true");

/** What a refused setting's error says after the variable's name: what it is, and the two ways out. */
export function devSettingRefused(what: string): string {
  return `${what}, which anyone can read in the repository: set your own, or ${DEV_MODE_VARIABLE}=1 where development-only settings are meant`;
}

/** A login's password in every development setup (`make up`, docker compose, the Kubernetes dev overlay; deploy/postgres/init.sql). */
export function devDatabasePassword(user: string): string {
  return `${user}-dev`;
}

/** Does this postgres:// URL log in with its user's development password? */
export function hasDevDatabasePassword(databaseUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return false; // not a URL: the variable's own check says so
  }
  return url.password !== "" && decodeURIComponent(url.password) === devDatabasePassword(decodeURIComponent(url.username));
}
