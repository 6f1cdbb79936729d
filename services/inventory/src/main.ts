import { baseServiceConfig, loadConfigOrExit } from "@bazaar/runtime/config";
import { runService } from "@bazaar/runtime/service";
import { inventoryEventHandlers } from "./events.js";
import { inventoryService } from "./service.js";
import { migrationsDir } from "./store.js";

// The inventory process: configuration from the environment, the runtime does the rest.
await runService({
  name: "inventory",
  config: loadConfigOrExit(baseServiceConfig("inventory")),
  migrationsDir,
  services: [inventoryService],
  events: { consumes: inventoryEventHandlers },
});
