import { pino, type Logger } from "pino";
import { traceFields } from "./observability/tracing.js";

export type { Logger };

/**
 * Keys whose values never reach a log line: at the top of a logged object or of
 * a child logger's bindings, or one level down in any of their values.
 */
const SECRET_KEYS = ["payment_token", "paymentToken", "password", "authorization"];
const CENSOR = "[redacted]";

/**
 * JSON lines on stdout, one per event, with the service name on every line and
 * the trace and span ids of the work in progress (so one request can be
 * followed across services' logs), secrets censored (`redacted`). Lines go out
 * together, at most LOG_FLUSH_DELAY_MS after they were logged (`bufferedLines`).
 */
export function createLogger(service: string, level = "info", destination: pino.DestinationStream = stdoutLines()): Logger {
  const logger = pino(
    {
      level,
      base: { service },
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }), log: redacted },
      mixin: traceFields,
    },
    destination,
  );
  // pino passes a child's bindings through no formatter: they are censored on the way in (every
  // descendant is made from this instance, so it inherits this `child`).
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redacted(bindings), options);
  } as Logger["child"];
  return logger;
}

/**
 * `fields` with the value of every secret key (SECRET_KEYS) replaced by
 * "[redacted]", at the top and in any object one level down: what pino's
 * redact paths "key" and "*.key" did. The caller's objects are never changed:
 * an object that holds a secret is copied (an Error stays an Error). Nothing is
 * copied when nothing needs it, which is nearly every line. pino's own
 * redaction parsed its paths again for every value of every line, ~4 µs and
 * ~2 KB of garbage a field (bench/analysis.md).
 */
export function redacted<T extends Record<string, unknown>>(fields: T): T {
  let copy: Record<string, unknown> | undefined;
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    const value: unknown = fields[key];
    const safe = value !== undefined && SECRET_KEYS.includes(key) ? CENSOR : typeof value === "object" && value !== null ? censored(value) : value;
    if (safe !== value) censor((copy ??= { ...fields }), key, safe);
  }
  return (copy ?? fields) as T;
}

/** `value`, or a copy of it (same prototype and properties) with its secret keys' values censored. */
function censored(value: object): object {
  let copy: object | undefined;
  for (const key of SECRET_KEYS) {
    if (!Object.hasOwn(value, key) || (value as Record<string, unknown>)[key] === undefined) continue;
    censor((copy ??= copyOf(value)), key, CENSOR);
  }
  return copy ?? value;
}

function copyOf(value: object): object {
  const copy = Object.create(Object.getPrototypeOf(value) as object, Object.getOwnPropertyDescriptors(value)) as object;
  // V8's `stack` reads the error it was made for, not a copy: carry its text over.
  if (value instanceof Error) Object.defineProperty(copy, "stack", { value: value.stack, writable: true, configurable: true });
  return copy;
}

/** Set `key` even where the copied property was read-only or an accessor. */
function censor(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

let isoMs = Number.NaN;
let isoText = "";

/** pino's `,"time":"<ISO 8601>"`, the same text as its isoTime, made once per millisecond however many lines share it. */
function isoTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = `,"time":"${new Date(now).toISOString()}"`;
  }
  return isoText;
}

/** What an RPC line says of one served call (server.ts). */
export interface RpcLine {
  rpc: string;
  code: string;
  durationMs: number;
  peer: string;
  /** The ids of the call's span, which `logger.info` would have taken from the active context. */
  traceId: string;
  spanId: string;
}

/**
 * A writer of the line every served call logs at info, byte for byte what
 * `logger.info({ rpc, code, duration_ms, peer }, "rpc")` writes inside the
 * call's span (lib/test/logger.test.ts holds the two together), built as one
 * string: pino's general path (the mixin, merging and serializing an object)
 * was a tenth of a served call's CPU in bench/'s hop. Writes nothing while
 * `logger` is above info.
 */
export function rpcLineWriter(logger: Logger): (line: RpcLine) => void {
  // pino's own serialized bindings (`,"service":"…"`) and destination: public symbols, its own text.
  const bindings = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? "";
  const destination = (logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
  return ({ rpc, code, durationMs, peer, traceId, spanId }) => {
    if (!logger.isLevelEnabled("info")) return;
    destination.write(
      `{"level":"info"${isoTime()}${bindings},"trace_id":"${traceId}","span_id":"${spanId}","rpc":${JSON.stringify(rpc)},"code":${JSON.stringify(code)},"duration_ms":${durationMs},"peer":${JSON.stringify(peer)},"msg":"rpc"}\n`,
    );
  };
}

/** A destination whose writes can be forced out now (before the process exits). */
export interface FlushableDestination extends pino.DestinationStream {
  flushNow(): void;
}

/**
 * How long a logged line may wait for the lines logged after it: long enough
 * that a busy process writes many lines at once, short enough that a person
 * following the log sees no delay. Writing at the end of every event-loop turn
 * instead meant, one call at a time, a write and a wake-up of the log's reader
 * per RPC (bench/analysis.md, the hop).
 */
export const LOG_FLUSH_DELAY_MS = 20;

/**
 * Lines written together by one synchronous write: LOG_FLUSH_DELAY_MS after the
 * first line the buffer holds, at once past `maxLength` characters, and on
 * demand (`flushNow`, which the process's exit calls). A write per line was the
 * largest cost of a served call: one system call per RPC line, ~20 µs of a
 * ~78 µs call in bench/'s hop. The process's exit (process.exit, a signal's
 * drain, an uncaught exception) writes what the buffer holds; only a SIGKILL or
 * an out-of-memory kill loses lines, those of the last LOG_FLUSH_DELAY_MS at
 * most, which a write per line would have kept.
 */
export function bufferedLines(write: (chunk: string) => void, { maxLength = 64 * 1024 } = {}): FlushableDestination {
  let pending = "";
  let timer: NodeJS.Timeout | undefined;
  const flushNow = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending === "") return;
    const chunk = pending;
    pending = "";
    write(chunk);
  };
  return {
    write(line: string) {
      pending += line;
      if (pending.length >= maxLength) flushNow();
      // Unreferenced: a process with nothing else to do exits at once, and its exit writes the lines.
      else timer ??= setTimeout(flushNow, LOG_FLUSH_DELAY_MS).unref();
    },
    flushNow,
  };
}

let stdout: FlushableDestination | undefined;

/**
 * The process's stdout, shared by every logger the process makes. Writes are
 * synchronous (sonic-boom retries a pipe that is full), so a chunk is out when
 * `write` returns and exiting cannot lose it.
 */
function stdoutLines(): FlushableDestination {
  if (stdout === undefined) {
    const sink = pino.destination({ dest: 1, sync: true });
    stdout = bufferedLines((chunk) => sink.write(chunk));
    process.on("exit", stdout.flushNow);
  }
  return stdout;
}
