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

  it("waits for company after a batch's first item, then hands out the batch though it is not full", async () => {
    const source = channel<string>();
    const batched = batches(source, 10, 500);
    const first = batched.next();
    source.push("a");
    await tick(10);
    source.push("b");
    // Both: "a" waited for "b". And handed out not full: after the linger, not never.
    expect((await first).value).toEqual(["a", "b"]);
    source.close();
  });

  it("gives a caller that falls behind what queued meanwhile as one batch", async () => {
    const source = channel<number>();
    const batched = batches(source, 10, 50);
    source.push(1);
    expect((await batched.next()).value).toEqual([1]);
    // The caller is busy; meanwhile three arrive, further apart than the linger.
    source.push(2);
    await tick(60);
    source.push(3);
    await tick(60);
    source.push(4);
    await tick(10);
    expect((await batched.next()).value).toEqual([2, 3, 4]);
    source.close();
  });

  it("hands out what a full batch left over at once, not a linger later", async () => {
    const source = channel<number>();
    // A linger longer than the test's timeout: a batch that waited for it would fail the test.
    const batched = batches(source, 2, 60_000);
    source.push(1, 2, 3);
    expect((await batched.next()).value).toEqual([1, 2]);
    expect((await batched.next()).value).toEqual([3]);
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
    source.close();
    const rest: number[][] = [];
    for await (const batch of batched) rest.push(batch);
    expect(rest.flat()).toEqual([3, 4, 5, 6]);
    expect(Math.max(...rest.map((batch) => batch.length))).toBe(2);
  });

  it("stops reading the source once the caller stops taking batches", async () => {
    const source = channel<number>();
    const batched = batches(source, 2, 50);
    source.push(...Array.from({ length: 20 }, (_, index) => index));
    expect((await batched.next()).value).toEqual([0, 1]);
    await batched.return(undefined);
    await tick(20);
    // What it had read ahead when told to stop, and at most the one item it was waiting to put down.
    expect(source.read).toBeLessThanOrEqual(6);
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
