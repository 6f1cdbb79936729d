import { defineEdge, type RunningEdge, startEdge } from "@bazaar/runtime/edge";
import { createLogger, type Logger } from "@bazaar/runtime/logger";
import { gatewayCalls } from "./calls.js";
import { type GatewayConfig, gatewayConfig } from "./config.js";
import { openGateway } from "./gateway.js";

/**
 * The gateway: the shop's HTTP API in front of catalog, orders and
 * notifications, customers' bearer tokens checked at the door. An edge (HTTP,
 * no database) with every service's lifecycle.
 */
export const gateway = defineEdge({
  name: "gateway",
  config: gatewayConfig,
  calls: gatewayCalls,
  callDeadlineMs: (config) => config.REQUEST_TIMEOUT_MS,
  open: openGateway,
});

/** The gateway in this process with `config` (tests, and main.ts through runEdge). */
export const startGateway = (config: GatewayConfig, logger: Logger = createLogger("gateway", config.LOG_LEVEL)): Promise<RunningEdge> => startEdge(gateway, config, logger);
