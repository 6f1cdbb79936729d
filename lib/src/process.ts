import { readFileSync } from "node:fs";
import { ConfigError, EXIT_CONFIG } from "./config.js";
import { collectWhenIdle } from "./idle-memory.js";
import { type Logger } from "./logger.js";
import { idleCollections } from "./observability/metrics.js";

/**
 * The life of a server process, for every entry point: wait for `started`,
 * drain on SIGTERM or SIGINT and exit 0; exit 1 with a logged reason if it
 * cannot start or cannot stop (78, EX_CONFIG, when the reason is configuration
 * only found at start: a certificate or the policy file). A signal that arrives while it is still
 * starting stops it as soon as it is up, so a migration is never cut in half.
 */
export async function runUntilSignalled(started: Promise<{ stop(): Promise<void> }>, logger: Logger): Promise<void> {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, "shutdown requested");
    started
      .then((running) => running.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.fatal({ err: error }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  await started.catch((error: unknown) => {
    logger.fatal({ err: error }, "failed to start");
    process.exit(error instanceof ConfigError ? EXIT_CONFIG : 1);
  });
  // Up: give back what start-up grew, and later what each busy spell grows, once idle.
  collectWhenIdle({ onCollected: () => idleCollections.inc() });
}

/**
 * Node flags every service and the gateway start with: `make up`, the image's CMD
 * (test/deploy/dockerfile.test.ts holds the two together), the tests' and the
 * benchmarks' meshes.
 *
 * A young generation of 8 MB semi-spaces, which collectWhenIdle (idle-memory.ts)
 * gives back once a service is idle. With 2 MB, every call in flight at a
 * hundred at once outlived the scavenge after it and was promoted; 8 MB used
 * 4–6% less CPU an order at 200 orders/s in two interleaved rounds. V8 keeps
 * what start-up or a load grew the semi-spaces to, so without the idle
 * collection 8 MB idled over the 100 MB target that 2 MB was chosen for; with
 * it, 80–91 MB (bench/analysis.md, seventh pass).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=8"];

/**
 * Whether process `pid` is running. Signal 0 checks that it exists without touching
 * it (EPERM: it exists but belongs to someone else). An exited process answers it
 * too until its parent reaps it, and a detached one (a server started by pg_ctl, a
 * service `make up` left running) waits for init: where /proc tells, such a zombie
 * counts as gone.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").at(-1)?.[0] !== "Z";
  } catch {
    return process.platform !== "linux"; // no /proc to ask: trust the signal
  }
}
