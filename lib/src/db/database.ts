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

async function openPglite(dataDir: string): Promise<Database> {
  const isNew = dataDir === "memory://" || !hasCluster(dataDir);
  const db = await PGlite.create(dataDir, {
    parsers: { [pgliteTypes.INT8]: Number },
    ...(isNew ? { loadDataDir: await freshClusterTarball() } : {}),
  });
  const wrap = (q: Pick<PGlite, "query" | "exec">): Queryable => ({
    query: async <Row>(sql: string, params?: unknown[]) => (await q.query<Row>(sql, params)).rows,
    exec: async (sql) => void (await q.exec(sql)),
  });
  return {
    backend: "pglite",
    ...wrap(db),
    transaction: (work) => db.transaction((tx) => work(wrap(tx))),
    close: () => db.close(),
  };
}

async function openPostgres(url: string): Promise<Database> {
  const parseInt8 = (oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format);
  const pool = new pg.Pool({ connectionString: url, types: { getTypeParser: parseInt8 as typeof pg.types.getTypeParser } });
  await pool.query("select 1"); // fail at start, with the server's message, not at the first request
  const wrap = (q: pg.Pool | pg.PoolClient): Queryable => ({
    query: async <Row>(sql: string, params?: unknown[]) => (await q.query(sql, params)).rows as Row[],
    exec: async (sql) => void (await q.query(sql)),
  });
  return {
    backend: "postgres",
    ...wrap(pool),
    transaction: async (work) => {
      const client = await pool.connect();
      try {
        await client.query("begin");
        const result = await work(wrap(client));
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
