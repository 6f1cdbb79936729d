import { loadConfigOrExit } from "@bazaar/runtime/config";
import { runService } from "@bazaar/runtime/service";
import { catalogConfig } from "./config.js";
import { catalogServiceWith } from "./service.js";
import { migrationsDir } from "./store.js";

// The catalog process: configuration from the environment, the runtime does the rest.
const config = loadConfigOrExit(catalogConfig);
await runService({
  name: "catalog",
  config,
  migrationsDir,
  services: [catalogServiceWith(config.PRODUCT_CACHE_TTL_MS)],
});
