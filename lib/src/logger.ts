import { pino, type Logger } from "pino";
import { traceFields } from "./observability/tracing.js";

export type { Logger };

/** Fields that must never reach a log line, wherever they appear in a logged object. */
const REDACTED_PATHS = [
  "payment_token",
  "paymentToken",
  "*.payment_token",
  "*.paymentToken",
  "password",
  "*.password",
  "authorization",
  "*.authorization",
];

/**
 * JSON lines on stdout, one per event, with the service name on every line and
 * the trace and span ids of the work in progress (so one request can be
 * followed across services' logs). Lines go out at the end of the event-loop
 * turn that logged them (`turnBuffered`).
 */
export function createLogger(service: string, level = "info", destination: pino.DestinationStream = stdoutLines()): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    destination,
  );
}

/** A destination whose writes can be forced out now (before the process exits). */
export interface FlushableDestination extends pino.DestinationStream {
  flushNow(): void;
}

/**
 * The lines logged during one event-loop turn, written together by one
 * synchronous write when the turn ends (a setImmediate), or at once past
 * `maxBytes`. A write per line was the largest cost of a served call: one
 * system call per RPC line, ~20 µs of a ~78 µs call in bench/'s hop (see
 * bench/analysis.md). Nothing waits longer than the turn it was logged in, and
 * the process's exit (process.exit, a signal's drain, an uncaught exception)
 * writes what the turn still holds; only a SIGKILL or an out-of-memory kill
 * mid-turn loses that turn's lines, which a write per line would have kept.
 */
export function turnBuffered(write: (chunk: string) => void, maxBytes = 64 * 1024): FlushableDestination {
  let pending = "";
  let scheduled = false;
  const flushNow = () => {
    scheduled = false;
    if (pending === "") return;
    const chunk = pending;
    pending = "";
    write(chunk);
  };
  return {
    write(line: string) {
      pending += line;
      if (pending.length >= maxBytes) flushNow();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flushNow);
      }
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
    stdout = turnBuffered((chunk) => sink.write(chunk));
    process.on("exit", stdout.flushNow);
  }
  return stdout;
}
