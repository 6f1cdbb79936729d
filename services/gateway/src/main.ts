import { loadConfigOrExit } from "@bazaar/runtime/config";
import { createLogger } from "@bazaar/runtime/logger";
import { gatewayConfig } from "./config.js";
import { startGateway } from "./gateway.js";

// The gateway process: configuration from the environment, then the HTTP server.
// It owns no database, so it wires the runtime's pieces itself instead of runService.
const config = loadConfigOrExit(gatewayConfig);
const logger = createLogger("gateway", config.LOG_LEVEL);
const started = startGateway(config, logger);

// A signal during start stops the gateway as soon as it is up; drained, it exits 0.
const onSignal = (signal: NodeJS.Signals) => {
  logger.info({ signal }, "shutdown requested");
  started
    .then((gateway) => gateway.stop())
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
  process.exit(1);
});
