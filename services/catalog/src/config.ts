import { env } from "@bazaar/runtime/config";
import { serviceConfig } from "@bazaar/shop/config";
import { DEFAULT_PRODUCT_CACHE_TTL_MS } from "./service.js";

/** The catalog's configuration: the base variables, and how long products are served from memory (0: never). */
export const catalogConfig = serviceConfig().extend({
  PRODUCT_CACHE_TTL_MS: env.milliseconds(DEFAULT_PRODUCT_CACHE_TTL_MS),
});
