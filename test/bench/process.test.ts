import { describe, expect, it } from "vitest";
import { preciseCpuSeconds } from "../../bench/lib/process.js";

/** bench/ipc.ts reads a far end's CPU over spans too short for /proc's 10 ms ticks. */
describe("the bench's precise CPU counter", () => {
  it("counts the CPU this process spends, to well under a tick", () => {
    const before = preciseCpuSeconds(process.pid);
    const usage = process.cpuUsage();
    // Spin until the kernel's own accounting says 30 ms of CPU went by (however long that takes on a busy machine).
    while (process.cpuUsage(usage).user < 30_000);
    const spent = preciseCpuSeconds(process.pid) - before;
    expect(spent).toBeGreaterThanOrEqual(0.025);
    expect(spent).toBeLessThan(1);
  });

  it("is NaN for a process that is not there", () => {
    expect(preciseCpuSeconds(2 ** 30)).toBeNaN();
  });
});
