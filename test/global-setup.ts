import { startTestPostgres, type TestPostgres } from "../lib/test/support/postgres.js";
// Only modules that need no generated code: this runs before anything is built or resolved from source.
import { TEST_POSTGRES_VARIABLE } from "../lib/src/db/fresh-database.js";

/**
 * One throwaway PostgreSQL cluster for the whole test run (vitest's globalSetup,
 * in the main process, before any worker starts: the workers inherit its URL).
 * Each test takes fresh databases from it (freshDatabase in lib/src/testing.ts),
 * so tests never share data and never wait for a cluster of their own.
 */
let cluster: TestPostgres | undefined;

export async function setup(): Promise<void> {
  cluster = await startTestPostgres();
  process.env[TEST_POSTGRES_VARIABLE] = cluster.url();
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
