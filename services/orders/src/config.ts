import { z } from "zod";
import { env } from "@bazaar/runtime/config";
import { serviceConfig } from "@bazaar/shop/config";
import { PORTS } from "@bazaar/shop/ports";

/** Orders' configuration: the base variables plus where its dependencies are (plain env vars, no discovery). */
export const ordersConfig = serviceConfig("orders").extend({
  CATALOG_ADDR: env.address(`127.0.0.1:${PORTS.catalog.grpc}`),
  INVENTORY_ADDR: env.address(`127.0.0.1:${PORTS.inventory.grpc}`),
  PAYMENTS_ADDR: env.address(`127.0.0.1:${PORTS.payments.grpc}`),
  /** The whole PlaceOrder budget, shared by every call it makes (a caller's shorter deadline wins). */
  PLACE_ORDER_TIMEOUT_MS: env.milliseconds(5000),
  /** How often orders looks for orders left PENDING by an interrupted saga (recovery.ts). */
  STALLED_ORDER_SWEEP_MS: env.milliseconds(30_000),
});

export type OrdersConfig = z.infer<typeof ordersConfig>;
