import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { preciseCpuSeconds, startProcess, stopProcess } from "../../bench/lib/process.js";

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

/** The hop's servers log through a pipe, as a deployed service's stdout is one. */
describe("a bench process whose output goes through a pipe", () => {
  it("has both its streams copied to its log, and the pid is its own", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bazaar-bench-process-"));
    try {
      const log = join(dir, "child.log");
      const script =
        'const { fstatSync } = require("node:fs"); process.stdout.write(`out line, a stream to a reader: ${fstatSync(1).isSocket()}\\n`);' +
        ' process.stderr.write("err line\\n"); setTimeout(() => {}, 60_000);';
      const started = startProcess("child", process.execPath, ["-e", script], {}, log, 0, "pipe");
      const deadline = Date.now() + 10_000;
      const text = () => readFileSync(log, "utf8");
      while (!(text().includes("out line") && text().includes("err line")) && Date.now() < deadline) await sleep(20);
      // Node's pipes are socket pairs: not a file, whatever the reader does with what it reads.
      expect(text()).toContain("out line, a stream to a reader: true\n");
      expect(text()).toContain("err line\n");
      // taskset execs the command: the pid measured is the child's own, not a shell's or a reader's.
      expect(readFileSync(`/proc/${started.pid}/cmdline`, "utf8").split("\0")[0]).toBe(process.execPath);
      await stopProcess(started, 2000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
