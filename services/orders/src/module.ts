import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { events } from "@bazaar/shop/events";
import { defineService } from "@bazaar/runtime/module";
import { ordersConfig } from "./config.js";
import { startStalledOrderSweeper } from "./recovery.js";
import { orderServiceWith } from "./service.js";
import { migrationsDir } from "./store.js";

/**
 * Orders: the PlaceOrder saga over catalog, inventory and payments (each its
 * own client, breaker and bulkhead; every call within the saga's budget), its
 * events through the outbox, and the sweep of orders an interrupted saga left.
 */
export const orders = defineService({
  name: "orders",
  ports: { grpc: 50053, admin: 9053 },
  config: ordersConfig,
  migrationsDir,
  calls: {
    catalog: { service: CatalogServiceService, address: "CATALOG_ADDR" },
    inventory: { service: InventoryServiceService, address: "INVENTORY_ADDR" },
    payments: { service: PaymentServiceService, address: "PAYMENTS_ADDR" },
  },
  callDeadlineMs: (config) => config.PLACE_ORDER_TIMEOUT_MS,
  grpc: ({ config, clients }) => [orderServiceWith(clients, config.PLACE_ORDER_TIMEOUT_MS)],
  publishes: [events.orderPlaced, events.orderCancelled, events.orderRejected],
  background: (deps, { config }) => [startStalledOrderSweeper(deps, { sagaBudgetMs: config.PLACE_ORDER_TIMEOUT_MS, intervalMs: config.STALLED_ORDER_SWEEP_MS })],
});
