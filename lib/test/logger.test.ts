import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createLogger, turnBuffered } from "../src/logger.js";
import { repoRoot } from "./support/process.js";

describe("turnBuffered", () => {
  it("writes the lines of one event-loop turn together, once the turn ends", async () => {
    const writes: string[] = [];
    const destination = turnBuffered((chunk) => writes.push(chunk));
    destination.write("a\n");
    destination.write("b\n");
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(["a\nb\n"]);
    destination.write("c\n");
    await nextTurn();
    expect(writes).toEqual(["a\nb\n", "c\n"]);
  });

  it("writes at once past its size, and on demand", () => {
    const writes: string[] = [];
    const destination = turnBuffered((chunk) => writes.push(chunk), 10);
    destination.write("12345\n");
    destination.write("67890\n");
    expect(writes).toEqual(["12345\n67890\n"]);
    destination.write("x\n");
    destination.flushNow();
    expect(writes).toEqual(["12345\n67890\n", "x\n"]);
  });

  it("carries pino's lines whole, one JSON object per line", async () => {
    const writes: string[] = [];
    const logger = createLogger("test", "info", turnBuffered((chunk) => writes.push(chunk)));
    logger.info({ n: 1 }, "one");
    logger.info({ n: 2 }, "two");
    await nextTurn();
    expect(writes).toHaveLength(1);
    const lines = writes[0]!.trimEnd().split("\n").map((line) => JSON.parse(line) as { msg: string; n: number });
    expect(lines.map(({ msg, n }) => [msg, n])).toEqual([["one", 1], ["two", 2]]);
  });
});

describe("a service's stdout", () => {
  const run = promisify(execFile);
  const logsThenExits = (how: string) =>
    run(process.execPath, ["--conditions=bazaar-source", "--import", "tsx", join(repoRoot, "lib/test/fixtures/logs-then-exits.ts"), how], { cwd: repoRoot }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
  const messages = (stdout: string) => stdout.trimEnd().split("\n").map((line) => (JSON.parse(line) as { msg: string }).msg);

  it.each([
    ["the turn ends and the process has nothing left to do", "end", 0],
    ["process.exit() in the same turn", "exit", 3],
    ["an uncaught exception in the same turn", "throw", 1],
  ])("keeps the last turn's lines when %s", async (_, how, code) => {
    const result = await logsThenExits(how);
    expect(result.code).toBe(code);
    expect(messages(result.stdout)).toEqual(["first", "second"]);
  });
});
