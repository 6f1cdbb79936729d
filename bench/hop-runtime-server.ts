/**
 * The runtime's whole server stack with nothing behind it: startService from
 * the compiled lib (metrics interceptor, promise handlers, span, one log line
 * per RPC, health, reflection), serving CatalogService.GetProduct from memory.
 * Against the bare server it isolates what the middleware costs; against the
 * real catalog, what the database query costs.
 *
 * TLS_MODE=mtls (TLS_DIR) adds what the deployed mesh adds: mutual TLS with the
 * catalog's certificate and the authorization interceptor on every call.
 *
 * The runtime opens its database before it serves, as every service does:
 * DATABASE_URL names one (bench/hop.ts gives each server its own on a
 * throwaway cluster); the answer never reads it.
 *
 * Usage: node --import tsx bench/hop-runtime-server.ts <port> <response.json>   (DATABASE_URL, LOG_LEVEL, TLS_MODE, TLS_DIR from the environment)
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CatalogServiceService, GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { parseConfig } from "@bazaar/runtime/config";
import { serviceConfig } from "@bazaar/shop/config";
import { unavailable } from "@bazaar/runtime/errors";
import { implement, runService } from "@bazaar/runtime/service";

const [port, responseFile] = process.argv.slice(2);
const response = GetProductResponse.fromJSON(JSON.parse(readFileSync(responseFile!, "utf8")));
const notMeasured = () => Promise.reject(unavailable("not part of the benchmark"));

await runService({
  name: "catalog",
  config: parseConfig(serviceConfig(), {
    GRPC_ADDR: `127.0.0.1:${port}`,
    ADMIN_ADDR: "127.0.0.1:0",
    DATABASE_URL: process.env.DATABASE_URL,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    TLS_MODE: process.env.TLS_MODE,
    TLS_DIR: process.env.TLS_DIR,
  }),
  // The runtime opens a database before SERVING: give it the catalog's schema.
  migrationsDir: fileURLToPath(new URL("../services/catalog/migrations", import.meta.url)),
  services: [
    implement(CatalogServiceService, () => ({
      getProduct: () => Promise.resolve(response),
      batchGetProducts: notMeasured,
      listProducts: notMeasured,
    })),
  ],
});
