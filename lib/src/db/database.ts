import { mkdirSync } from "node:fs";

/**
 * One PostgreSQL dialect for every service, behind two backends:
 * - PGlite (Postgres compiled to WebAssembly, in-process): the default, data in
 *   a per-service directory, or in memory for tests. Nothing to install.
 * - A real PostgreSQL server through `pg`, when DATABASE_URL is postgres://...
 * Both return int8 (bigint) columns as JS numbers: money amounts are bounded
 * far below 2^53 by validation, and the generated stubs use numbers too.
 */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Run one or more statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Run `callback` once what was written through this handle is committed: at
   * once outside a transaction (every statement commits), after COMMIT inside
   * one, never if it rolls back. Lets the outbox wake its relay without polling.
   */
  afterCommit(callback: () => void): void;
}

export interface Database extends Queryable {
  readonly backend: "pglite" | "postgres";
  /** Run `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://... for a server; "memory://" for in-memory PGlite; empty for PGlite in dataDir. */
  url?: string | undefined;
  /** Where embedded PGlite keeps its files. */
  dataDir: string;
}

/**
 * Each backend's module is loaded only when used: a service on PostgreSQL never
 * loads PGlite's WebAssembly build (megabytes of resident memory), and one on
 * PGlite never loads `pg`.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url?.startsWith("postgres")) return (await import("./postgres.js")).openPostgres(options.url);
  const { openPglite } = await import("./pglite.js");
  if (options.url === "memory://") return openPglite("memory://");
  mkdirSync(options.dataDir, { recursive: true });
  return openPglite(options.dataDir);
}
