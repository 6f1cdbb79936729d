import { env } from "@bazaar/runtime/config";
import { GATEWAY_HTTP_PORT, PORTS } from "@bazaar/runtime/ports";
import { z } from "zod";

/**
 * The gateway's environment. It owns no database, so it reads its own variables
 * instead of baseServiceConfig: where to listen for HTTP, and where each service
 * it calls lives (plain host:port, as in every other discovery setting).
 */
export const gatewayConfig = z.object({
  HTTP_ADDR: env.address(`127.0.0.1:${GATEWAY_HTTP_PORT}`),
  CATALOG_ADDR: env.address(`127.0.0.1:${PORTS.catalog.grpc}`),
  ORDERS_ADDR: env.address(`127.0.0.1:${PORTS.orders.grpc}`),
  NOTIFICATIONS_ADDR: env.address(`127.0.0.1:${PORTS.notifications.grpc}`),
  /** The deadline of every downstream gRPC call. */
  REQUEST_TIMEOUT_MS: env.milliseconds(5_000),
  LOG_LEVEL: env.logLevel(),
  SHUTDOWN_GRACE_MS: env.milliseconds(10_000),
});

export type GatewayConfig = z.infer<typeof gatewayConfig>;
