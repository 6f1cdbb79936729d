import { afterEach, describe, expect, it, vi } from "vitest";
import { batchedStatement, DEFAULT_LINGER_MS } from "../src/db/batched-statement.js";
import { type Queryable } from "../src/db/database.js";

/** Stands in for a database: batchedStatement only keeps a queue per database object. */
const database = () => ({}) as Queryable;

/** A statement that doubles numbers, one batch at a time by hand: each batch waits until the test lets it end. */
function doubling() {
  const batches: number[][] = [];
  const ends: Array<() => void> = [];
  const statement = batchedStatement(async (_db, items: number[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => ends.push(resolve));
    if (items.includes(13)) throw new Error("13 is refused");
    return items.map((item) => item * 2);
  });
  /** End the running batch; resolves once the next one (if any) has started. */
  const endBatch = async () => {
    ends.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { statement, batches, endBatch };
}

describe("batchedStatement", () => {
  it("runs a call at once, alone, when none is running", async () => {
    const { statement, batches, endBatch } = doubling();
    const answer = statement(database(), 21);
    expect(batches).toEqual([[21]]);
    await endBatch();
    expect(await answer).toBe(42);
  });

  it("runs the calls made while a batch runs together, next, each getting its own result", async () => {
    const { statement, batches, endBatch } = doubling();
    const db = database();
    const answers = [1, 2, 3, 4].map((item) => statement(db, item));
    expect(batches).toEqual([[1]]);
    await endBatch();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    await endBatch();
    expect(await Promise.all(answers)).toEqual([2, 4, 6, 8]);
  });

  it("keeps one queue per database", async () => {
    const { statement, batches } = doubling();
    void statement(database(), 1);
    void statement(database(), 2);
    expect(batches).toEqual([[1], [2]]);
  });

  it("when a batch fails, runs each of its items alone: only the refused one fails", async () => {
    const { statement, batches, endBatch } = doubling();
    const db = database();
    const first = statement(db, 1);
    const answers = [5, 13, 7].map((item) => statement(db, item).then((value) => value, (error: Error) => error.message));
    await endBatch();
    expect(await first).toBe(2);
    await endBatch(); // the batch [5, 13, 7] fails
    expect(batches.slice(2)).toEqual([[5], [13], [7]]);
    await endBatch();
    await endBatch();
    await endBatch();
    expect(await Promise.all(answers)).toEqual([10, "13 is refused", 14]);
  });

  it("fails a call whose statement answers the wrong number of results", async () => {
    const statement = batchedStatement(async (_db, items: number[]) => items.slice(1));
    await expect(statement(database(), 1)).rejects.toThrow("answered 0 results for 1 items");
  });
});

describe("batchedStatement while calls come often", () => {
  afterEach(() => vi.useRealTimers());

  /** A statement that answers at once, recording each batch and the (fake) time it started. */
  function instant(lingerMs?: number) {
    const batches: Array<{ at: number; items: number[] }> = [];
    const statement = batchedStatement(
      async (_db, items: number[]) => {
        batches.push({ at: performance.now(), items });
        return items.map((item) => item * 2);
      },
      lingerMs === undefined ? {} : { lingerMs },
    );
    return { statement, batches };
  }
  /** One call every `gapMs` (more than the linger), each answered before the next is made. */
  async function steady(statement: (db: Queryable, item: number) => Promise<number>, db: Queryable, items: number[], gapMs: number) {
    for (const item of items) {
      const answer = statement(db, item);
      await vi.advanceTimersByTimeAsync(gapMs);
      await answer;
    }
  }

  it("holds a lone call for lingerMs, and runs it with the calls made meanwhile", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { statement, batches } = instant(3);
    const db = database();
    // Calls 4 ms apart never overlap a batch. The first runs at once; from the second on, the
    // calls come closer together than four lingers: each waits its 3 ms for company.
    await steady(statement, db, [1, 2, 3, 4, 5], 4);
    expect(batches).toEqual([
      { at: 0, items: [1] },
      { at: 7, items: [2] },
      { at: 11, items: [3] },
      { at: 15, items: [4] },
      { at: 19, items: [5] },
    ]);
    const answers = [6, 7, 8].map((item) => statement(db, item));
    expect(batches).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(3);
    expect(batches.at(-1)).toEqual({ at: 23, items: [6, 7, 8] });
    expect(await Promise.all(answers)).toEqual([12, 14, 16]);
  });

  it("runs a call at once again after a quiet spell", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { statement, batches } = instant(3);
    const db = database();
    await steady(statement, db, [1, 2, 3, 4], 4);
    await vi.advanceTimersByTimeAsync(1000);
    const answer = statement(db, 9);
    expect(batches.at(-1)!.items).toEqual([9]);
    expect(await answer).toBe(18);
  });

  it("takes more than one short gap to make a quiet statement busy", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { statement, batches } = instant(3);
    const db = database();
    // A call a second: quiet. Then two calls 4 ms apart: the average gap is still far above four lingers.
    await steady(statement, db, [1, 2, 3], 1000);
    await steady(statement, db, [4, 5], 4);
    expect(batches.slice(-2)).toEqual([
      { at: 3000, items: [4] },
      { at: 3004, items: [5] },
    ]);
  });

  it("never holds a call when lingerMs is 0", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { statement, batches } = instant(0);
    const db = database();
    await steady(statement, db, [1, 2, 3, 4, 5], 1);
    batches.forEach((batch, index) => expect(batch.at).toBe(index));
  });

  it("holds calls by default: DEFAULT_LINGER_MS", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { statement, batches } = instant();
    const gap = DEFAULT_LINGER_MS + 1;
    await steady(statement, database(), [1, 2], gap);
    expect(batches.map((batch) => batch.at)).toEqual([0, gap + DEFAULT_LINGER_MS]);
  });
});
