/**
 * The shop's gRPC services and its HTTP edge, each declared once in its services/<name>/src/module.ts,
 * in the order they can start (orders calls catalog, inventory and payments).
 * The one list that launchers, tests and checks read what a service is from:
 * what it publishes and consumes, whom it calls, its config.
 */
import { catalog } from "../services/catalog/src/module.js";
import { gateway } from "../services/gateway/src/module.js";
import { inventory } from "../services/inventory/src/module.js";
import { notifications } from "../services/notifications/src/module.js";
import { orders } from "../services/orders/src/module.js";
import { payments } from "../services/payments/src/module.js";

export const SHOP_MODULES = [catalog, inventory, payments, notifications, orders] as const;

/** The shop's edge: the HTTP gateway in front of the services, started after them. */
export const SHOP_EDGE = gateway;

export type ShopModule = (typeof SHOP_MODULES)[number];
