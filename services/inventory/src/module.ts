import { serviceConfig } from "@bazaar/shop/config";
import { defineService } from "@bazaar/runtime/module";
import { inventoryEventHandlers } from "./events.js";
import { inventoryService } from "./service.js";
import { migrationsDir } from "./store.js";

/** Inventory: stock and reservations over its own database; sells or gives back a reservation on the orders' events. */
export const inventory = defineService({
  name: "inventory",
  ports: { grpc: 50052, admin: 9052 },
  config: serviceConfig(),
  migrationsDir,
  grpc: () => [inventoryService],
  consumes: inventoryEventHandlers,
});
