import { PGlite, types as pgliteTypes } from "@electric-sql/pglite";
import { afterCommitOf, runCommitted } from "./commit-hooks.js";
import type { Database, Queryable } from "./database.js";
import { freshClusterTarball, hasCluster } from "./pglite-template.js";

/** The embedded backend: PostgreSQL compiled to WebAssembly, in this process. */

/**
 * PostgreSQL's default 128MB of shared buffers is touched at start, so it is
 * resident in every service that embeds PGlite, idle or not. A service's
 * development data fit in a fraction of this (bench/: ~130 MB less per idle service).
 */
const PGLITE_SHARED_BUFFERS = "16MB";

export async function openPglite(dataDir: string): Promise<Database> {
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
