import { defineService } from "@bazaar/runtime/module";
import { catalogConfig } from "./config.js";
import { catalogServiceWith } from "./service.js";
import { migrationsDir } from "./store.js";

/** The catalog: products over its own database, served from memory for PRODUCT_CACHE_TTL_MS. It calls no one and handles no events. */
export const catalog = defineService({
  name: "catalog",
  ports: { grpc: 50051, admin: 9051 },
  config: catalogConfig,
  migrationsDir,
  grpc: ({ config }) => [catalogServiceWith(config.PRODUCT_CACHE_TTL_MS)],
});
