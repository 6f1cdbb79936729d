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

/**
 * Faults on purpose (faults.ts): a process takes them from its admin port only
 * with this variable set, and only in development mode. Off unless asked for:
 * `make up FAULTS=1`, `FAULTS=1 docker compose up` and the console's browser test
 * set it; nothing else does.
 */
export const FAULTS_VARIABLE = "BAZAAR_FAULTS";

/** BAZAAR_FAULTS as a boolean: "1" or "true" let the admin port switch faults on. */
export const faultsFlag = () =>
  z
    .enum(["1", "true", "0", "false"], { error: 'expected "1" (faults may be switched on from the admin port) or "0"' })
    .default("0")
    .transform((value) => value === "1" || value === "true");

/** The error of BAZAAR_FAULTS=1 without BAZAAR_DEV_MODE=1. */
export const FAULTS_NEED_DEV_MODE = `faults on purpose are for development meshes only: set ${DEV_MODE_VARIABLE}=1 as well, or leave ${FAULTS_VARIABLE} unset`;

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
