import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bufferedLines, createLogger, LOG_FLUSH_DELAY_MS, redacted, rpcLineWriter } from "../src/logger.js";
import { startTracing } from "../src/observability/tracing.js";
import { repoRoot } from "./support/process.js";

// The active context carries a span (the RPC line's trace ids) only once a context manager is registered.
startTracing("logger-test");

describe("bufferedLines", () => {
  afterEach(() => vi.useRealTimers());

  it("writes the lines it holds together, LOG_FLUSH_DELAY_MS after the first of them", () => {
    vi.useFakeTimers();
    const writes: string[] = [];
    const destination = bufferedLines((chunk) => writes.push(chunk));
    destination.write("a\n");
    vi.advanceTimersByTime(LOG_FLUSH_DELAY_MS - 1);
    destination.write("b\n");
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(writes).toEqual(["a\nb\n"]);
    destination.write("c\n");
    vi.advanceTimersByTime(LOG_FLUSH_DELAY_MS - 1);
    expect(writes).toEqual(["a\nb\n"]);
    vi.advanceTimersByTime(1);
    expect(writes).toEqual(["a\nb\n", "c\n"]);
  });

  it("writes at once past its size, and on demand, and then waits for no timer", () => {
    vi.useFakeTimers();
    const writes: string[] = [];
    const destination = bufferedLines((chunk) => writes.push(chunk), { maxLength: 10 });
    destination.write("12345\n");
    destination.write("67890\n");
    expect(writes).toEqual(["12345\n67890\n"]);
    destination.write("x\n");
    destination.flushNow();
    expect(writes).toEqual(["12345\n67890\n", "x\n"]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(LOG_FLUSH_DELAY_MS);
    expect(writes).toHaveLength(2);
  });

  it("carries pino's lines whole, one JSON object per line", () => {
    vi.useFakeTimers();
    const writes: string[] = [];
    const logger = createLogger("test", "info", bufferedLines((chunk) => writes.push(chunk)));
    logger.info({ n: 1 }, "one");
    logger.info({ n: 2 }, "two");
    vi.advanceTimersByTime(LOG_FLUSH_DELAY_MS);
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
    ["the process has nothing left to do", "end", 0],
    ["process.exit() in the same turn", "exit", 3],
    ["an uncaught exception in the same turn", "throw", 1],
  ])("keeps the lines it still holds when %s", async (_, how, code) => {
    const result = await logsThenExits(how);
    expect(result.code).toBe(code);
    expect(messages(result.stdout)).toEqual(["first", "second"]);
  });
});

describe("rpcLineWriter", () => {
  it("writes what pino writes for the same RPC line inside the call's span, byte for byte but the time", async () => {
    const byPino: string[] = [];
    const byWriter: string[] = [];
    const line = { rpc: "/bazaar.catalog.v1.CatalogService/GetProduct", code: "NOT_FOUND", duration_ms: 0.123, peer: 'ipv6:[::1]:5"1' };
    const ids = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" };
    const pinoLogger = createLogger("catalog", "info", { write: (chunk: string) => void byPino.push(chunk) });
    const span = trace.wrapSpanContext({ ...ids, traceFlags: 0 });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => pinoLogger.info(line, "rpc"));
    const writerLogger = createLogger("catalog", "info", { write: (chunk: string) => void byWriter.push(chunk) });
    rpcLineWriter(writerLogger)({ rpc: line.rpc, code: line.code, durationMs: line.duration_ms, peer: line.peer, ...ids });
    const withoutTime = (text: string) => text.replace(/"time":"[^"]+"/, '"time":"T"');
    expect(byWriter).toHaveLength(1);
    expect(withoutTime(byWriter[0]!)).toBe(withoutTime(byPino[0]!));
    expect(JSON.parse(byWriter[0]!)).toMatchObject({ service: "catalog", trace_id: ids.traceId, span_id: ids.spanId, peer: line.peer, msg: "rpc" });
  });

  it("writes nothing while the logger is above info", () => {
    const written: string[] = [];
    const logger = createLogger("catalog", "warn", { write: (chunk: string) => void written.push(chunk) });
    rpcLineWriter(logger)({ rpc: "/a.B/C", code: "OK", durationMs: 1, peer: "p", traceId: "0".repeat(31) + "1", spanId: "0".repeat(15) + "1" });
    expect(written).toEqual([]);
  });
});

describe("secrets in log lines", () => {
  const linesOf = () => {
    const written: string[] = [];
    const logger = createLogger("payments", "info", { write: (chunk: string) => void written.push(chunk) });
    return { logger, lines: () => written.map((line) => JSON.parse(line) as Record<string, unknown>) };
  };

  it("are censored at the top of a line and one level down, wherever the key appears, and nothing else is", () => {
    const { logger, lines } = linesOf();
    const request = { customer_id: "c1", payment_token: "tok_visa", card: { paymentToken: "tok_x", last4: "4242" } };
    const headers = { authorization: "Bearer abc", accept: "*/*" };
    logger.info({ request, headers, password: "hunter2", deep: { a: { password: "kept: two levels down" } } }, "placed");
    const [line] = lines();
    expect(line).toMatchObject({
      request: { customer_id: "c1", payment_token: "[redacted]", card: { paymentToken: "tok_x", last4: "4242" } },
      headers: { authorization: "[redacted]", accept: "*/*" },
      password: "[redacted]",
      deep: { a: { password: "kept: two levels down" } },
      msg: "placed",
    });
    // What was logged is the caller's, unchanged.
    expect(request.payment_token).toBe("tok_visa");
    expect(headers.authorization).toBe("Bearer abc");
  });

  it("are censored in a child logger's bindings and in an error's own fields, the error still logged as one", () => {
    const { logger, lines } = linesOf();
    const error = Object.assign(new Error("card refused"), { authorization: "Bearer abc" });
    logger.child({ paymentToken: "tok_child" }).warn({ err: error }, "failed");
    const [line] = lines() as Array<{ paymentToken: string; err: { type: string; message: string; stack: string; authorization: string } }>;
    expect(line!.paymentToken).toBe("[redacted]");
    expect(line!.err).toMatchObject({ type: "Error", message: "card refused", authorization: "[redacted]" });
    expect(line!.err.stack).toContain("card refused");
    expect(error.authorization).toBe("Bearer abc");
  });

  it("leave a line without them as it is, without copying it", () => {
    const fields = { method: "POST", route: "/api/orders", status: 201, nested: { ok: true } };
    expect(redacted(fields)).toBe(fields);
    const { logger, lines } = linesOf();
    logger.info(fields, "http request");
    expect(lines()[0]).toMatchObject(fields);
  });
});
