import pg from "pg";
import { databaseStatements } from "../observability/metrics.js";
import { afterCommitOf, runCommitted } from "./commit-hooks.js";

/**
 * One database engine everywhere: PostgreSQL, reached through DATABASE_URL. On a
 * laptop and in the tests it is a cluster started from the binaries npm ships
 * (postgres-cluster.ts); in compose and Kubernetes a server. int8 (bigint)
 * columns come back as JS numbers: money amounts are bounded far below 2^53 by
 * validation, and the generated stubs use numbers too.
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

/**
 * `rows` as one array per column, each `pick`ed in order: the parameters of a
 * statement that writes them all at once with unnest($1::type[], $2::type[], …).
 */
export function columnsOf<T>(rows: readonly T[], ...pick: Array<(row: T) => unknown>): unknown[][] {
  return pick.map((column) => rows.map(column));
}

export interface Database extends Queryable {
  /** Run `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
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

/**
 * How long a pooled connection may sit idle before the pool closes it. pg's
 * default, 10 s, had a service under uneven load close connections between
 * bursts and open them again at the next: a SCRAM login (PBKDF2 on both
 * sides), a new backend process and its prepared statements planned anew, each
 * time (bench/analysis.md). A minute keeps them through a working service's
 * lulls; an idle service still gives them back.
 */
const IDLE_CONNECTION_MS = 60_000;

/**
 * A page read at random costed as about one read in sequence (random_page_cost;
 * PostgreSQL's default, 4, models a spinning disk), on every connection. A
 * service's tables live in memory; with 4, a batch of 64 orders was joined to a
 * table of 20,000 rows by reading all of them rather than by 128 lookups in its
 * index, and the rows read grew with every order taken (bench/analysis.md).
 * Plans stay cached per connection: a named statement's generic plan made while a
 * table was nearly empty can read it whole until autovacuum first analyzes it (a
 * minute or two on a new database). Planning every execution instead
 * (plan_cache_mode=force_custom_plan) was measured and refused: it cost the
 * cluster more CPU an order than those first minutes' scans.
 * PGOPTIONS and DATABASE_URL's own `options` come after it, so an operator's choice wins.
 */
const SESSION_SETTINGS = "-c random_page_cost=1.1";

/**
 * The pool's connection string and startup options: SESSION_SETTINGS, then
 * PGOPTIONS, then any `options` the URL gives (the later wins). pg would take
 * either of those instead of ours, so they are joined here, and `options` moves
 * out of such a URL; any other URL is passed on as it is.
 */
function withSessionSettings(url: string): { connectionString: string; options: string } {
  const given = /[?&]options=/.test(url) ? new URL(url) : undefined;
  const options = [SESSION_SETTINGS, process.env.PGOPTIONS, given?.searchParams.get("options")].filter(Boolean).join(" ");
  given?.searchParams.delete("options");
  return { connectionString: given?.toString() ?? url, options };
}

/** The database at `url` (postgres://...), through a pool of `pg` connections. */
export async function openDatabase(url: string): Promise<Database> {
  const parseInt8 = (oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format);
  const pool = new pg.Pool({
    ...withSessionSettings(url),
    idleTimeoutMillis: IDLE_CONNECTION_MS,
    types: { getTypeParser: parseInt8 as typeof pg.types.getTypeParser },
  });
  // An idle pooled connection the server drops (a restart, a failover, an administrator) is an 'error' on
  // the pool, which would crash the process unhandled. The pool discards that client and connects anew when
  // needed; a query that fails meanwhile fails on its own, with its error.
  pool.on("error", () => {});
  await pool.query("select 1"); // fail at start, with the server's message, not at the first request
  const wrap = (q: pg.Pool | pg.PoolClient, committed?: Array<() => void>): Queryable => ({
    query: async <Row>(sql: string, params?: unknown[]) => {
      databaseStatements.inc();
      return (await q.query({ name: statementName(sql), text: sql, values: params })).rows as Row[];
    },
    exec: async (sql) => {
      databaseStatements.inc();
      await q.query(sql);
    },
    afterCommit: afterCommitOf(committed),
  });
  return {
    ...wrap(pool),
    transaction: (work) =>
      runCommitted(async (committed) => {
        const client = await pool.connect();
        try {
          databaseStatements.inc();
          await client.query("begin");
          const result = await work(wrap(client, committed));
          databaseStatements.inc();
          await client.query("commit");
          return result;
        } catch (error) {
          databaseStatements.inc();
          await client.query("rollback").catch(() => {});
          throw error;
        } finally {
          client.release();
        }
      }),
    close: () => pool.end(),
  };
}
