import { loadConfigOrExit } from "@bazaar/runtime/config";
import { createLogger } from "@bazaar/runtime/logger";
import { runUntilSignalled } from "@bazaar/runtime/process";
import { gatewayConfig } from "./config.js";
import { startGateway } from "./gateway.js";

// The gateway process: configuration from the environment, then the HTTP server.
// It serves HTTP instead of gRPC and owns no database, so startGateway builds its
// edge; its lifecycle is every service's (@bazaar/runtime/lifecycle).
const config = loadConfigOrExit(gatewayConfig);
const logger = createLogger("gateway", config.LOG_LEVEL);
// Drained on SIGTERM/SIGINT, it exits 0 (the same lifecycle as every service).
await runUntilSignalled(startGateway(config, logger), logger);
