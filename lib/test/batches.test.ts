import { describe, expect, it } from "vitest";
import { batches } from "../src/events/batches.js";

/** A source the test feeds by hand; it counts what the batcher has read from it. */
function channel<T>() {
  const items: T[] = [];
  let waiting: (() => void) | undefined;
  let closed = false;
  let failure: Error | undefined;
  const state = {
    read: 0,
    push(...more: T[]) {
      items.push(...more);
      waiting?.();
    },
    close(error?: Error) {
      closed = true;
      failure = error;
      waiting?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (items.length > 0) {
          state.read += 1;
          yield items.shift()!;
        } else if (closed) {
          if (failure) throw failure;
          return;
        } else {
          await new Promise<void>((resolve) => (waiting = resolve));
        }
      }
    },
  };
  return state;
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe("batches", () => {
  it("hands out a full batch at once, without lingering", async () => {
    const source = channel<number>();
    const batched = batches(source, 3, 60_000);
    source.push(1, 2, 3, 4);
    expect((await batched.next()).value).toEqual([1, 2, 3]);
    source.close();
    expect((await batched.next()).value).toEqual([4]);
    expect((await batched.next()).done).toBe(true);
  });

  it("waits up to the linger after a batch's first item for more, then hands out what came", async () => {
    const source = channel<string>();
    const batched = batches(source, 10, 150);
    const first = batched.next();
    source.push("a");
    await tick(20);
    source.push("b");
    const started = performance.now();
    expect((await first).value).toEqual(["a", "b"]);
    // Handed out by the linger (from "a"'s arrival), not at once: the batch was not full.
    expect(performance.now() - started).toBeGreaterThan(50);
    source.close();
  });

  it("gives what queued while the caller worked at once: a caller that falls behind gets bigger batches", async () => {
    const source = channel<number>();
    const batched = batches(source, 100, 5);
    source.push(1);
    expect((await batched.next()).value).toEqual([1]);
    // The caller is busy; meanwhile more arrive, more than the linger ago.
    source.push(2, 3, 4);
    await tick(30);
    const started = performance.now();
    expect((await batched.next()).value).toEqual([2, 3, 4]);
    expect(performance.now() - started).toBeLessThan(5);
    source.close();
  });

  it("reads no further ahead than one batch while the caller works", async () => {
    const source = channel<number>();
    const batched = batches(source, 2, 50);
    source.push(1, 2, 3, 4, 5, 6);
    expect((await batched.next()).value).toEqual([1, 2]);
    await tick(20);
    // Handed out 2; holds 2 more at most, plus the one the reader waits to put down.
    expect(source.read).toBeLessThanOrEqual(5);
    expect((await batched.next()).value).toEqual([3, 4]);
    expect((await batched.next()).value).toEqual([5, 6]);
    source.close();
    expect((await batched.next()).done).toBe(true);
  });

  it("hands out what it holds when the source ends, then throws the source's error", async () => {
    const source = channel<number>();
    const batched = batches(source, 10, 60_000);
    source.push(1, 2);
    source.close(new Error("connection closed"));
    expect((await batched.next()).value).toEqual([1, 2]);
    await expect(batched.next()).rejects.toThrow("connection closed");
  });

  it("with a batch of one and no linger, passes each item on as it comes", async () => {
    const source = channel<number>();
    const batched = batches(source, 1, 0);
    source.push(1, 2);
    expect((await batched.next()).value).toEqual([1]);
    expect((await batched.next()).value).toEqual([2]);
    source.close();
    expect((await batched.next()).done).toBe(true);
  });
});
