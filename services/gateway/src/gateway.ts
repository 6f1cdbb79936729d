import { splitAddress } from "@bazaar/runtime/config";
import { listenOn } from "@bazaar/runtime/http-server";
import { type EdgeSetup, type OpenEdge } from "@bazaar/runtime/edge";
import { bearerAuthentication } from "./bearer.js";
import { type gatewayCalls } from "./calls.js";
import { type GatewayConfig } from "./config.js";
import { closeServer, createHttpServer } from "./http.js";
import { apiRoutes } from "./routes.js";

/**
 * The gateway's edge: the route table over its clients (every call with
 * REQUEST_TIMEOUT_MS as its deadline) and an HTTP server. Channels connect
 * lazily, so the gateway starts whether or not the services are up yet; a call
 * to a service that is down answers 503.
 */
export async function openGateway({ config, clients, logger, isDraining }: EdgeSetup<GatewayConfig, typeof gatewayCalls>): Promise<OpenEdge> {
  const server = createHttpServer(apiRoutes(clients, isDraining), logger, isDraining, bearerAuthentication(config));
  const boundPort = await listenOn(server, splitAddress(config.HTTP_ADDR));
  logger.info(
    { http_port: boundPort, catalog: config.CATALOG_ADDR, orders: config.ORDERS_ADDR, notifications: config.NOTIFICATIONS_ADDR },
    "listening",
  );
  return { port: boundPort, drain: (graceMs) => closeServer(server, graceMs) };
}
