import { describe, expect, it } from "vitest";
import { waitForQuiet } from "../../bench/lib/machine.js";

/** A load average that reads `values` one after another, then stays at the last. */
function loads(...values: number[]): { load: () => number; reads: () => number } {
  let reads = 0;
  return { load: () => values[Math.min(reads++, values.length - 1)]!, reads: () => reads };
}

describe("waiting for a quiet machine before a measurement", () => {
  it("starts at once when the load is already under the bar", async () => {
    const machine = loads(1.2);
    expect(await waitForQuiet({ below: 2, maxMs: 60_000, pollMs: 1, load: machine.load })).toBeLessThan(50);
    expect(machine.reads()).toBe(1);
  });

  it("looks again until the load falls under the bar", async () => {
    const machine = loads(3.5, 2.8, 2.0, 1.9, 0.5);
    await waitForQuiet({ below: 2, maxMs: 60_000, pollMs: 1, load: machine.load });
    // 2.0 is not under 2: the wait ends at the fourth reading, 1.9.
    expect(machine.reads()).toBe(4);
  });

  it("gives up after maxMs on a machine that stays busy", async () => {
    const machine = loads(4);
    const waited = await waitForQuiet({ below: 2, maxMs: 60, pollMs: 10, load: machine.load });
    expect(waited).toBeGreaterThanOrEqual(60);
    expect(waited).toBeLessThan(60_000);
    expect(machine.reads()).toBeGreaterThan(1);
  });
});
