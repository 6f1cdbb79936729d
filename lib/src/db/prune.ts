import { type Database } from "./database.js";

/** How often the runtime deletes rows nobody needs any more: old inbox rows. */
export const PRUNE_EVERY_MS = 10 * 60_000;

/** Rows deleted per statement: short statements, no long lock on a big table. */
const PRUNE_BATCH = 1000;

/**
 * Delete the rows of `table` that match `where` (with `params`), a batch per
 * statement, until none is left or `keepGoing` says stop (a process shutting
 * down); returns how many went.
 */
export async function deleteInBatches(db: Database, table: string, where: string, params: unknown[], keepGoing: () => boolean = () => true): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db.query(
      `delete from ${table} where ctid = any(array(select ctid from ${table} where ${where} limit ${PRUNE_BATCH})) returning 1`,
      params,
    );
    total += deleted.length;
    if (deleted.length < PRUNE_BATCH || !keepGoing()) return total;
  }
}
