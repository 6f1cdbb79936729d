import { type Logger } from "./logger.js";

/** A job started by startPeriodic; stop() ends the schedule and waits for a run in progress. */
export interface PeriodicJob {
  stop(): Promise<void>;
}

/**
 * Run `task` now and then every `intervalMs`, never two runs at once (a run that
 * outlasts the interval delays the next). A failed run is logged as `<name>
 * failed` and the next one tries again: a background job must outlive a database
 * blip. The timer does not keep the process alive.
 */
export function startPeriodic(name: string, intervalMs: number, logger: Logger, task: () => Promise<void>): PeriodicJob {
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (running || stopped) return;
    running = task()
      .catch((error: unknown) => logger.error({ err: error, job: name }, `${name} failed`))
      .finally(() => (running = undefined));
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
