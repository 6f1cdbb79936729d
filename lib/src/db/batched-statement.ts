import { type Queryable } from "./database.js";

/** A call waiting for its batch. */
interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(error: unknown): void;
}

/** The most items one statement takes. */
const MAX_BATCH = 64;

/**
 * A statement that serves many callers at once: `run` writes a batch of items
 * in one statement on `db` (one round trip, one commit) and answers one result
 * per item, in order. A call made while no batch of it is running on that
 * database runs at once, alone: an idle service waits for nothing. A call made
 * while one is running waits for it to end and then runs with every call that
 * queued meanwhile, so under load the calls that arrive during one commit share
 * the next (group commit, done where PostgreSQL cannot: across statements).
 *
 * If a batch of several fails, each of its items is run again alone, so an item
 * the statement refuses fails its own call only. `run` must therefore be a
 * statement that is correct to repeat for an item whose first attempt rolled
 * back, which any single statement is (it commits whole or not at all).
 *
 * One batch of a statement runs at a time per database, so a batch that waits
 * for a row lock holds back the calls queued behind it: use it only for rows
 * that every other writer holds for one statement or a short transaction
 * (no network call inside), as the shop's services do.
 */
export function batchedStatement<I, O>(run: (db: Queryable, items: I[]) => Promise<O[]>): (db: Queryable, item: I) => Promise<O> {
  const queues = new WeakMap<Queryable, { waiting: Waiting<I, O>[]; running: boolean }>();

  const runAll = async (db: Queryable, batch: Waiting<I, O>[]) => {
    const results = await run(db, batch.map((call) => call.item));
    if (results.length !== batch.length) throw new Error(`a batched statement answered ${results.length} results for ${batch.length} items`);
    batch.forEach((call, index) => call.resolve(results[index]!));
  };
  /** The batch in one statement; if that fails, each item alone (a batch of one: its call fails). */
  const settle = async (db: Queryable, batch: Waiting<I, O>[]) => {
    try {
      await runAll(db, batch);
    } catch (error) {
      if (batch.length === 1) batch[0]!.reject(error);
      else await Promise.all(batch.map((call) => runAll(db, [call]).catch((alone: unknown) => call.reject(alone))));
    }
  };

  const next = (db: Queryable) => {
    const queue = queues.get(db)!;
    if (queue.running || queue.waiting.length === 0) return;
    queue.running = true;
    void settle(db, queue.waiting.splice(0, MAX_BATCH)).finally(() => {
      queue.running = false;
      next(db);
    });
  };

  return (db, item) =>
    new Promise<O>((resolve, reject) => {
      let queue = queues.get(db);
      if (queue === undefined) queues.set(db, (queue = { waiting: [], running: false }));
      queue.waiting.push({ item, resolve, reject });
      next(db);
    });
}
