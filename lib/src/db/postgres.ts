import pg from "pg";
import { afterCommitOf, runCommitted } from "./commit-hooks.js";
import type { Database, Queryable } from "./database.js";

/** The server backend: a PostgreSQL server through `pg` (DATABASE_URL=postgres://...). */

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

export async function openPostgres(url: string): Promise<Database> {
  const parseInt8 = (oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format);
  const pool = new pg.Pool({ connectionString: url, types: { getTypeParser: parseInt8 as typeof pg.types.getTypeParser } });
  // An idle pooled connection the server drops (a restart, a failover, an administrator) is an 'error' on
  // the pool, which would crash the process unhandled. The pool discards that client and connects anew when
  // needed; a query that fails meanwhile fails on its own, with its error.
  pool.on("error", () => {});
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
