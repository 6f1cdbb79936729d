import pg from "pg";

/** Set by the test run's global setup (test/global-setup.ts): the superuser's URL on its throwaway cluster. */
export const TEST_POSTGRES_VARIABLE = "BAZAAR_TEST_POSTGRES_URL";

let databasesMade = 0;

/**
 * A new, empty database on the test run's cluster, and its URL: CREATE DATABASE
 * takes a fraction of a second, so every test (and every service it starts) has
 * its own and never sees another's rows.
 */
export async function freshDatabase(label = "test"): Promise<string> {
  const server = process.env[TEST_POSTGRES_VARIABLE];
  if (!server) {
    throw new Error(`${TEST_POSTGRES_VARIABLE} is unset: run the tests through vitest, whose global setup (test/global-setup.ts) starts their PostgreSQL cluster`);
  }
  databasesMade += 1;
  const name = `${label.toLowerCase().replace(/[^a-z0-9]+/g, "_")}_${process.pid}_${databasesMade}_${Date.now().toString(36)}`;
  const client = new pg.Client(server);
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}
