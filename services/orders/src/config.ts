import { z } from "zod";
import { env } from "@bazaar/runtime/config";
import { serviceConfig } from "@bazaar/shop/config";

/** Orders' configuration: the base variables plus where its dependencies are (plain env vars, no discovery; set by every launcher and deployment). */
export const ordersConfig = serviceConfig().extend({
  CATALOG_ADDR: env.address(),
  INVENTORY_ADDR: env.address(),
  PAYMENTS_ADDR: env.address(),
  /** The whole PlaceOrder budget, shared by every call it makes (a caller's shorter deadline wins). */
  PLACE_ORDER_TIMEOUT_MS: env.milliseconds(5000),
  /** How often orders looks for orders left PENDING by an interrupted saga (recovery.ts). */
  STALLED_ORDER_SWEEP_MS: env.milliseconds(30_000),
});

export type OrdersConfig = z.infer<typeof ordersConfig>;
