import { loadConfigOrExit } from "@bazaar/runtime/config";
import { createLogger } from "@bazaar/runtime/logger";
import { runUntilSignalled } from "@bazaar/runtime/process";
import { gatewayConfig } from "./config.js";
import { startGateway } from "./gateway.js";

// The gateway process: configuration from the environment, then the HTTP server.
// It owns no database, so it wires the runtime's pieces itself instead of runService.
const config = loadConfigOrExit(gatewayConfig);
const logger = createLogger("gateway", config.LOG_LEVEL);
// Drained on SIGTERM/SIGINT, it exits 0 (the same lifecycle as every service).
await runUntilSignalled(startGateway(config, logger), logger);
