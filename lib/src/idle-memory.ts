import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** V8's gc() as --expose-gc installs it (Node 22 and 24 take these options). */
type ExposedGc = (options: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

/**
 * V8's memory-reducing collection. gc() is taken from a new context once the flag
 * is set, as Jest does, rather than from --expose-gc on the command line: with
 * that flag the mesh took ~0.25 s longer to start (bench/analysis.md), and the
 * main context keeps no global gc for code to call.
 */
export function memoryReducingCollection(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as ExposedGc;
  return () => gc({ type: "major", execution: "sync", flavor: "last-resort" });
}

/** How often a service reads its event loop's utilization to find it idle. */
export const IDLE_CHECK_MS = 5000;

/**
 * How long a process stays idle after a busy spell before it gives memory
 * back. The collection costs the process its optimized code (below), so a
 * pause between bursts shorter than this keeps it.
 */
export const IDLE_AFTER_BUSY_MS = 30_000;

export interface IdleCollectorOptions {
  /** How often the event loop's utilization is read (IDLE_CHECK_MS). */
  checkMs?: number;
  /** How long it must stay idle after a busy spell before it collects (IDLE_AFTER_BUSY_MS); after start-up, one interval. */
  afterBusyMs?: number;
  /** Busy for less than this share of the last interval: idle. */
  idleBelow?: number;
  /** The collection; by default V8's memory-reducing one (memoryReducingCollection), made at the first use. */
  collect?: () => void;
  /** The event loop's utilization (0–1) since the previous reading. */
  utilization?: () => number;
  /** Called after each collection (the process counts them in a metric). */
  onCollected?: () => void;
}

/**
 * Give back the memory a busy spell grew, once the process falls idle.
 *
 * V8 grows the young generation's semi-spaces under load, and start-up grows
 * them to their maximum. It shrinks them, and gives their pages back, only in a
 * collection that aims to reduce memory. It runs that one in the embedder's idle
 * time, and Node reports none. So a service that once served a burst, or just
 * started, would hold its largest nursery for good (bench/analysis.md: 16 MB of
 * new space → 1 MB, RSS 78 → 55 MB in a test process).
 *
 * This runs that collection (V8's "last-resort" major GC, some tens of ms of
 * CPU) when the event loop was busy less than `idleBelow` of each check
 * interval: after start-up at the first idle interval (the first collection),
 * and after a busy spell only once it has stayed idle for `afterBusyMs`. The
 * wait is there because the collection also clears the object shapes that only
 * optimized code still points to, and V8 throws that code away: the hot paths
 * of a service that paused for a few seconds ran interpreted and were compiled
 * again, at up to twice the CPU a call and four times the p99 for the seconds
 * after (bench/analysis.md). A service under steady load never pays for it.
 */
export function collectWhenIdle(options: IdleCollectorOptions = {}): { stop(): void } {
  let collect = options.collect;
  const utilization = options.utilization ?? eventLoopUtilization();
  const idleBelow = options.idleBelow ?? 0.02;
  const checkMs = options.checkMs ?? IDLE_CHECK_MS;
  const checksAfterBusy = Math.max(1, Math.ceil((options.afterBusyMs ?? IDLE_AFTER_BUSY_MS) / checkMs));
  // Start-up has just grown the heap, and its code is not hot yet: until the first
  // collection, one idle interval is enough, however busy starting was.
  let startingUp = true;
  // Idle intervals still to wait before collecting; undefined when there is nothing to give back.
  let waiting: number | undefined = 1;
  const timer = setInterval(() => {
    if (utilization() >= idleBelow) waiting = startingUp ? 1 : checksAfterBusy;
    else if (waiting !== undefined && --waiting === 0) {
      waiting = undefined;
      startingUp = false;
      (collect ??= memoryReducingCollection())();
      options.onCollected?.();
    }
  }, checkMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The event loop's utilization since the previous call (the first: since this was made). */
function eventLoopUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, last);
    last = now;
    return since.utilization;
  };
}
