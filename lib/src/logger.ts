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
 * followed across services' logs).
 * The destination is synchronous on purpose: pino's asynchronous writer costs
 * about a quarter of the throughput at low concurrency (see DESIGN.md), and a
 * synchronous write cannot lose the last lines when the process exits.
 */
export function createLogger(service: string, level = "info", destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
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
