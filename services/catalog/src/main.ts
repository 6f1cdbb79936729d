import { baseServiceConfig, loadConfigOrExit } from "@bazaar/runtime/config";
import { runService } from "@bazaar/runtime/service";
import { catalogService } from "./service.js";
import { migrationsDir } from "./store.js";

// The catalog process: configuration from the environment, the runtime does the rest.
await runService({
  name: "catalog",
  config: loadConfigOrExit(baseServiceConfig("catalog")),
  migrationsDir,
  services: [catalogService],
});
