import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { loadConfigOrExit } from "@bazaar/runtime/config";
import { createClient } from "@bazaar/runtime/grpc/client";
import { createLogger } from "@bazaar/runtime/logger";
import { createTransport } from "@bazaar/runtime/security/transport";
import { runService } from "@bazaar/runtime/service";
import { ordersConfig } from "./config.js";
import { startStalledOrderSweeper } from "./recovery.js";
import { orderServiceWith, ordersPublishes } from "./service.js";
import { migrationsDir } from "./store.js";

// The orders process: configuration, clients for its dependencies, the runtime does the rest.
const config = loadConfigOrExit(ordersConfig);
const logger = createLogger("orders", config.LOG_LEVEL);
// Calls go out with the orders certificate; each server must prove it is the service we meant.
const transport = createTransport(config, "orders", logger);
// Each dependency gets its own circuit breaker and bulkhead, named for logs and the
// bazaar_circuit_breaker_state gauge; retries follow each method's idempotency_level.
const clientOptions = (target: string) => ({
  deadlineMs: config.PLACE_ORDER_TIMEOUT_MS,
  target,
  logger,
  credentials: transport.client(target),
});
const downstream = {
  catalog: createClient(CatalogServiceService, config.CATALOG_ADDR, clientOptions("catalog")),
  inventory: createClient(InventoryServiceService, config.INVENTORY_ADDR, clientOptions("inventory")),
  payments: createClient(PaymentServiceService, config.PAYMENTS_ADDR, clientOptions("payments")),
};

await runService({
  name: "orders",
  config,
  logger,
  transport,
  migrationsDir,
  services: [orderServiceWith(downstream, config.PLACE_ORDER_TIMEOUT_MS)],
  events: { publishes: ordersPublishes },
  background: (deps) => [startStalledOrderSweeper(deps, { sagaBudgetMs: config.PLACE_ORDER_TIMEOUT_MS, intervalMs: config.STALLED_ORDER_SWEEP_MS })],
  onStop: () => Object.values(downstream).forEach((client) => client.close()),
});
