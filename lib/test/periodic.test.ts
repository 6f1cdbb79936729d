import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.js";
import { startPeriodic } from "../src/periodic.js";

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger("test", "info", destination), lines };
}

describe("startPeriodic", () => {
  it("runs at once, again after a failed run (logged with the job's name), and stops", async () => {
    const { logger, lines } = capturedLogger();
    let runs = 0;
    const job = startPeriodic("sweep", 5, logger, async () => {
      runs++;
      if (runs === 1) throw new Error("database went away");
    });
    expect(runs).toBe(1);
    await expect.poll(() => runs).toBeGreaterThanOrEqual(3);
    await job.stop();
    const after = runs;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(runs).toBe(after);
    expect(lines.filter((line) => line.msg === "sweep failed")).toEqual([expect.objectContaining({ job: "sweep", err: expect.objectContaining({ message: "database went away" }) })]);
  });

  it("never starts a run while one is in progress, and stop() waits for it", async () => {
    const { logger } = capturedLogger();
    let started = 0;
    let finished = false;
    let release!: () => void;
    const job = startPeriodic("slow", 1, logger, async () => {
      started++;
      await new Promise<void>((resolve) => (release = resolve));
      finished = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(started).toBe(1);
    const stopping = job.stop();
    release();
    await stopping;
    expect(finished).toBe(true);
    expect(started).toBe(1);
  });
});
