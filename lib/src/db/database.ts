import { mkdirSync } from "node:fs";
import { PGlite, types as pgliteTypes } from "@electric-sql/pglite";
import pg from "pg";
import { freshClusterTarball, hasCluster } from "./pglite-template.js";

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

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url?.startsWith("postgres")) return openPostgres(options.url);
  if (options.url === "memory://") return openPglite("memory://");
  mkdirSync(options.dataDir, { recursive: true });
  return openPglite(options.dataDir);
}

/**
 * PostgreSQL's default 128MB of shared buffers is touched at start, so it is
 * resident in every service that embeds PGlite, idle or not. A service's
 * development data fit in a fraction of this (bench/: ~100 MB less per process).
 */
const PGLITE_SHARED_BUFFERS = "16MB";

async function openPglite(dataDir: string): Promise<Database> {
  const isNew = dataDir === "memory://" || !hasCluster(dataDir);
  const db = await PGlite.create(dataDir, {
    parsers: { [pgliteTypes.INT8]: Number },
    startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${PGLITE_SHARED_BUFFERS}`],
    ...(isNew ? { loadDataDir: await freshClusterTarball() } : {}),
  });
  const wrap = (q: Pick<PGlite, "query" | "exec">, committed?: Array<() => void>): Queryable => ({
    query: async <Row>(sql: string, params?: unknown[]) => (await q.query<Row>(sql, params)).rows,
    exec: async (sql) => void (await q.exec(sql)),
    afterCommit: afterCommitOf(committed),
  });
  return {
    backend: "pglite",
    ...wrap(db),
    transaction: (work) => runCommitted((committed) => db.transaction((tx) => work(wrap(tx, committed)))),
    close: () => db.close(),
  };
}

async function openPostgres(url: string): Promise<Database> {
  const parseInt8 = (oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format);
  const pool = new pg.Pool({ connectionString: url, types: { getTypeParser: parseInt8 as typeof pg.types.getTypeParser } });
  await pool.query("select 1"); // fail at start, with the server's message, not at the first request
  const wrap = (q: pg.Pool | pg.PoolClient, committed?: Array<() => void>): Queryable => ({
    query: async <Row>(sql: string, params?: unknown[]) => (await q.query({ name: statementName(sql), text: sql, values: params })).rows as Row[],
    exec: async (sql) => void (await q.query(sql)),
    afterCommit: afterCommitOf(committed),
  });
  return {
    backend: "postgres",
    ...wrap(pool),
    transaction: (work) =>
      runCommitted(async (committed) => {
        const client = await pool.connect();
        try {
          await client.query("begin");
          const result = await work(wrap(client, committed));
          await client.query("commit");
          return result;
        } catch (error) {
          await client.query("rollback").catch(() => {});
          throw error;
        } finally {
          client.release();
        }
      }),
    close: () => pool.end(),
  };
}

/**
 * Queries run as named prepared statements, one name per SQL text: each pooled
 * connection has the server parse and plan a statement once, then only binds
 * and executes it. Unnamed, pg would send the text to be parsed and planned on
 * every call. Migrations (several statements, no parameters) go through exec.
 * Every query's text is a constant in the code, so the names stay few.
 */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `bazaar_${statementNames.size + 1}`;
    statementNames.set(sql, name);
  }
  return name;
}

/** Outside a transaction (no list) a callback runs at once; inside, it waits in the transaction's list. */
function afterCommitOf(committed: Array<() => void> | undefined): (callback: () => void) => void {
  return committed ? (callback) => committed.push(callback) : (callback) => callback();
}

/** Run a transaction collecting afterCommit callbacks; run them once it committed (not if it threw). */
async function runCommitted<T>(transaction: (committed: Array<() => void>) => Promise<T>): Promise<T> {
  const committed: Array<() => void> = [];
  const result = await transaction(committed);
  for (const callback of committed) callback();
  return result;
}
