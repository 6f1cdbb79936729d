import { type AddressInfo } from "node:net";
import { splitAddress } from "@bazaar/runtime/config";
import { clientsFor } from "@bazaar/runtime/grpc/calls";
import { createTransport } from "@bazaar/runtime/security/transport";
import { beginProcess, stopOnce } from "@bazaar/runtime/lifecycle";
import { createLogger, type Logger } from "@bazaar/runtime/logger";
import { bearerAuthentication } from "./bearer.js";
import { type GatewayConfig } from "./config.js";
import { closeServer, createHttpServer } from "./http.js";
import { type Clients, gatewayCalls } from "./calls.js";
import { apiRoutes } from "./routes.js";

export interface RunningGateway {
  /** The bound HTTP port (useful with HTTP_ADDR port 0). */
  port: number;
  /** Stop accepting, let in-flight requests finish (within SHUTDOWN_GRACE_MS), close the gRPC clients. */
  stop(): Promise<void>;
}

/**
 * The gateway: one gRPC client per service (every call with REQUEST_TIMEOUT_MS
 * as its deadline), the route table, and an HTTP server. Channels connect
 * lazily, so the gateway starts whether or not the services are up yet; a call
 * to a service that is down answers 503.
 */
export async function startGateway(config: GatewayConfig, logger: Logger = createLogger("gateway", config.LOG_LEVEL)): Promise<RunningGateway> {
  beginProcess("gateway");
  // One client (breaker, bulkhead) per service behind the gateway, made as every service makes its own.
  const transport = createTransport(config, "gateway", logger);
  const clients: Clients = clientsFor(gatewayCalls, config, { transport, logger, deadlineMs: config.REQUEST_TIMEOUT_MS });
  const closeClients = () => Object.values(clients).forEach((client) => client.close());

  let draining = false;
  const isDraining = () => draining;
  const server = createHttpServer(apiRoutes(clients, isDraining), logger, isDraining, bearerAuthentication(config));
  const { host, port } = splitAddress(config.HTTP_ADDR);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    closeClients();
    throw error;
  }
  const boundPort = (server.address() as AddressInfo).port;
  logger.info(
    { http_port: boundPort, catalog: config.CATALOG_ADDR, orders: config.ORDERS_ADDR, notifications: config.NOTIFICATIONS_ADDR },
    "listening",
  );

  const stop = stopOnce(
    logger,
    config.SHUTDOWN_GRACE_MS,
    (graceMs) => {
      draining = true;
      return closeServer(server, graceMs);
    },
    // Only after the drain: a request still in flight needs its client until it is answered.
    [closeClients],
  );
  return { port: boundPort, stop };
}
