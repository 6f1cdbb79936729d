import { type Logger } from "./logger.js";
import { collectProcessMetrics } from "./observability/metrics.js";
import { flushTracing, startTracing } from "./observability/tracing.js";

/**
 * The lifecycle every process of the mesh shares, gRPC service or HTTP gateway:
 * observed from its first line, and stopped one way.
 */

/** From the start: traces exported under the process's name, its CPU, memory and event loop collected. */
export function beginProcess(name: string): void {
  startTracing(name);
  collectProcessMetrics();
}

/**
 * The process's stop, the same for every process: log "draining", stop taking
 * work and let what is in flight finish within `graceMs` (`drain`, true if it
 * all finished), then release what it holds in order (jobs, events, clients, the
 * database: `release`), flush the traces, log "stopped". Calling it again waits
 * for the same stop.
 */
export function stopOnce(
  logger: Logger,
  graceMs: number,
  drain: (graceMs: number) => Promise<boolean>,
  release: ReadonlyArray<() => unknown>,
): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      logger.info({ grace_ms: graceMs }, "draining");
      const finished = await drain(graceMs);
      for (const step of release) await step();
      await flushTracing();
      logger.info({ in_flight_finished: finished }, "stopped");
    })());
}
