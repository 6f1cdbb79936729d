import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { collectWhenIdle, IDLE_AFTER_BUSY_MS } from "../src/idle-memory.js";

/** An event loop whose utilization over each check interval is read from `values`, then stays at the last. */
function loop(...values: number[]): () => number {
  let reads = 0;
  return () => values[Math.min(reads++, values.length - 1)]!;
}

describe("giving memory back when the process falls idle", () => {
  afterEach(() => void vi.useRealTimers());

  it("collects at the first idle interval after start-up, then only once a busy spell is followed by afterBusyMs of idleness", () => {
    vi.useFakeTimers();
    const collect = vi.fn();
    let counted = 0;
    // idle, idle, busy, busy, idle, idle, busy, idle, idle (under the bar: 0.02), idle, idle
    const collector = collectWhenIdle({
      checkMs: 1000,
      afterBusyMs: 3000,
      collect,
      onCollected: () => (counted += 1),
      utilization: loop(0.001, 0.003, 0.4, 0.9, 0.01, 0.005, 0.3, 0.0, 0.019, 0.0, 0.0),
    });
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1); // start-up's growth, given back at the first idle interval
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1); // still idle: nothing new to give back
    vi.advanceTimersByTime(2000);
    expect(collect).toHaveBeenCalledTimes(1); // busy: never while serving
    vi.advanceTimersByTime(2000);
    expect(collect).toHaveBeenCalledTimes(1); // idle for 2 s after the busy spell: not yet
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1); // busy again before 3 s: the pause kept what it grew (and its code)
    vi.advanceTimersByTime(2000);
    expect(collect).toHaveBeenCalledTimes(1); // 0.019 is under the bar: idle for 2 s
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(2); // idle for 3 s after the busy spell
    vi.advanceTimersByTime(5000);
    expect(collect).toHaveBeenCalledTimes(2);
    collector.stop();
    vi.advanceTimersByTime(10_000);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(counted).toBe(2); // each collection counted, for the metric
  });

  it("collects at the first idle interval after a busy start-up, however long starting kept it busy", () => {
    vi.useFakeTimers();
    const collect = vi.fn();
    // busy, busy (starting), idle, busy, idle
    const collector = collectWhenIdle({ checkMs: 1000, afterBusyMs: 3000, collect, utilization: loop(0.6, 0.3, 0.0, 0.5, 0.0) });
    vi.advanceTimersByTime(2000);
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1); // start-up's growth, at the first idle interval
    vi.advanceTimersByTime(2000);
    expect(collect).toHaveBeenCalledTimes(1); // after a busy spell: waits afterBusyMs
    vi.advanceTimersByTime(2000);
    expect(collect).toHaveBeenCalledTimes(2);
    collector.stop();
  });

  it("waits IDLE_AFTER_BUSY_MS after a busy spell by default", () => {
    vi.useFakeTimers();
    const collect = vi.fn();
    const collector = collectWhenIdle({ checkMs: 1000, collect, utilization: loop(0.0, 0.5, 0.0) });
    vi.advanceTimersByTime(2000);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(IDLE_AFTER_BUSY_MS - 1000);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(2);
    collector.stop();
  });

  it("never collects while the process stays busy", () => {
    vi.useFakeTimers();
    const collect = vi.fn();
    const collector = collectWhenIdle({ checkMs: 1000, collect, utilization: loop(0.3) });
    vi.advanceTimersByTime(60_000);
    expect(collect).not.toHaveBeenCalled();
    collector.stop();
  });

  it("gives the semi-spaces back with V8's collection, in a process started without --expose-gc", () => {
    // A process of its own, as a service runs: 8 MB semi-spaces grown by garbage, then the collection this module makes.
    const module = JSON.stringify(new URL("../src/idle-memory.ts", import.meta.url).href);
    const script = `
      const v8 = await import("node:v8");
      const { memoryReducingCollection } = await import(${module});
      const newSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === "new_space").space_size;
      let keep = [];
      for (let i = 0; i < 200000; i++) { keep.push({ i, s: "x" + i }); if (keep.length > 20000) keep = keep.slice(10000); }
      keep = null;
      const grown = newSpace();
      memoryReducingCollection()();
      console.log(JSON.stringify({ grown, after: newSpace(), exposed: typeof globalThis.gc }));`;
    const { grown, after, exposed } = JSON.parse(
      execFileSync(process.execPath, ["--import", "tsx", "--max-semi-space-size=8", "--input-type=module", "-e", script], { encoding: "utf8" }),
    ) as { grown: number; after: number; exposed: string };
    expect(grown).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(after).toBeLessThanOrEqual(grown / 4);
    // Nothing in the service's own context can call it.
    expect(exposed).toBe("undefined");
  });
});
