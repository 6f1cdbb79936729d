import { type Queryable } from "./database.js";

/** A call waiting for its batch. */
interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(error: unknown): void;
}

/** The most items one statement takes. */
const MAX_BATCH = 64;
/** How long a lone call waits for company while the statement is busy. */
export const DEFAULT_LINGER_MS = 3;
/**
 * Calls whose gaps average under this many lingers make the statement busy: a
 * call then finds company within its linger often enough (over 20% of the time
 * for calls that come at random) to be worth the wait.
 */
const BUSY_GAP_LINGERS = 4;
/** The weight of the latest gap in the running average: one short gap after a quiet spell does not make it busy. */
const GAP_WEIGHT = 1 / 8;

interface Queue<I, O> {
  waiting: Waiting<I, O>[];
  running: boolean;
  /** When the last call came, and the running average of the gaps between calls (ms; undefined until two came). */
  lastCallAt?: number;
  averageGapMs?: number;
}

/**
 * A statement that serves many callers at once: `run` writes a batch of items
 * in one statement on `db` (one round trip, one commit) and answers one result
 * per item, in order. A call made while no batch of it is running on that
 * database runs at once, alone, unless the statement is busy (below): an idle
 * service waits for nothing. A call made while one is running waits for it to
 * end and then runs with every call that queued meanwhile, so under load the
 * calls that arrive during one commit share the next (group commit, done where
 * PostgreSQL cannot: across statements).
 *
 * If a batch of several fails, each of its items is run again alone, so an item
 * the statement refuses fails its own call only. `run` must therefore be a
 * statement that is correct to repeat for an item whose first attempt rolled
 * back, which any single statement is (it commits whole or not at all).
 *
 * While the calls come often (their gaps average under BUSY_GAP_LINGERS
 * lingers, 12 ms by default), a call that finds no batch running waits
 * `lingerMs` for others before its statement runs: at a few hundred orders a
 * second a service's calls rarely overlap one commit, and each would pay a
 * round trip, a commit and a database backend's wake-up of its own
 * (bench/analysis.md, issue 16's eighth pass). A quiet service never waits.
 *
 * One batch of a statement runs at a time per database, so a batch that waits
 * for a row lock holds back the calls queued behind it: use it only for rows
 * that every other writer holds for one statement or a short transaction
 * (no network call inside), as the shop's services do.
 */
export function batchedStatement<I, O>(
  run: (db: Queryable, items: I[]) => Promise<O[]>,
  { lingerMs = DEFAULT_LINGER_MS }: { lingerMs?: number } = {},
): (db: Queryable, item: I) => Promise<O> {
  const queues = new WeakMap<Queryable, Queue<I, O>>();

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

  /** Run the calls waiting (up to MAX_BATCH), then the ones that came meanwhile, at once. */
  const runWaiting = (db: Queryable, queue: Queue<I, O>) => {
    queue.running = true;
    void settle(db, queue.waiting.splice(0, MAX_BATCH)).finally(() => {
      queue.running = false;
      if (queue.waiting.length > 0) runWaiting(db, queue);
    });
  };

  return (db, item) =>
    new Promise<O>((resolve, reject) => {
      let queue = queues.get(db);
      if (queue === undefined) queues.set(db, (queue = { waiting: [], running: false }));
      const now = performance.now();
      if (queue.lastCallAt !== undefined) {
        const gap = now - queue.lastCallAt;
        queue.averageGapMs = queue.averageGapMs === undefined ? gap : queue.averageGapMs + (gap - queue.averageGapMs) * GAP_WEIGHT;
      }
      queue.lastCallAt = now;
      queue.waiting.push({ item, resolve, reject });
      if (queue.running) return; // it goes with the next batch
      const busy = queue.averageGapMs !== undefined && queue.averageGapMs < lingerMs * BUSY_GAP_LINGERS;
      if (!busy) return runWaiting(db, queue);
      // Held for company: the batch starts when the linger ends, with every call made meanwhile.
      queue.running = true;
      setTimeout(() => runWaiting(db, queue), lingerMs);
    });
}
