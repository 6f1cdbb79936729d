import { ConfigError, EXIT_CONFIG } from "./config.js";
import { type Logger } from "./logger.js";

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
}

/**
 * Node flags every service starts with (`make up`, the images, the tests' and the
 * benchmarks' meshes). Empty until bench/node-memory.ts shows one earns its place.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = [];
