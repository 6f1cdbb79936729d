import { describe, expect, it } from "vitest";
import { batchedStatement } from "../src/db/batched-statement.js";
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
