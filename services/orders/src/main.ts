import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { loadConfigOrExit } from "@bazaar/runtime/config";
import { createClient } from "@bazaar/runtime/grpc/client";
import { runService } from "@bazaar/runtime/service";
import { ordersConfig } from "./config.js";
import { orderServiceWith, ordersPublishes } from "./service.js";
import { migrationsDir } from "./store.js";

// The orders process: configuration, clients for its dependencies, the runtime does the rest.
const config = loadConfigOrExit(ordersConfig);
const clientOptions = { deadlineMs: config.PLACE_ORDER_TIMEOUT_MS };
const downstream = {
  catalog: createClient(CatalogServiceService, config.CATALOG_ADDR, clientOptions),
  inventory: createClient(InventoryServiceService, config.INVENTORY_ADDR, clientOptions),
  payments: createClient(PaymentServiceService, config.PAYMENTS_ADDR, clientOptions),
};

await runService({
  name: "orders",
  config,
  migrationsDir,
  services: [orderServiceWith(downstream, config.PLACE_ORDER_TIMEOUT_MS)],
  events: { publishes: ordersPublishes },
  onStop: () => Object.values(downstream).forEach((client) => client.close()),
});
