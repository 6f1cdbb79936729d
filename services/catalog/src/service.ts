import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { notFound } from "@bazaar/runtime/errors";
import { type UnaryHandlers } from "@bazaar/runtime/grpc/server";
import { durationOfMs } from "@bazaar/runtime/proto-duration";
import { implement } from "@bazaar/runtime/service";
import { parseBatchGetProducts, parseGetProduct, parseListProducts, toPage } from "./domain.js";
import { CachedProducts } from "./cache.js";
import { productsIn } from "./store.js";

/** CatalogService's gRPC handlers: validate, ask the store (or its cache), answer. */
export function catalogHandlers(store: CachedProducts): UnaryHandlers<typeof CatalogServiceService> {
  return {
    async getProduct(request) {
      const id = parseGetProduct(request);
      const product = await store.get(id);
      if (!product) throw notFound(`product ${id} not found`);
      return { product };
    },

    async batchGetProducts(request) {
      const ids = parseBatchGetProducts(request);
      const { products, freshForMs } = await store.getFresh(ids);
      const found = new Map(products.map((product) => [product.id, product]));
      const missing = ids.find((id) => !found.has(id));
      if (missing !== undefined) throw notFound(`product ${missing} not found`);
      // The caller may keep the answer as long as the cache would serve it unchanged (catalog.proto).
      return { products: ids.map((id) => found.get(id)!), maxAge: durationOfMs(freshForMs) };
    },

    async listProducts(request) {
      const { pageSize, afterId } = parseListProducts(request);
      return toPage(await store.list(afterId, pageSize + 1), pageSize);
    },
  };
}

/** How long a product is served from memory by default (PRODUCT_CACHE_TTL_MS). */
export const DEFAULT_PRODUCT_CACHE_TTL_MS = 30_000;

/** The catalog as the runtime starts it: its contract and handlers over its own database, products cached for `cacheTtlMs`. */
export const catalogServiceWith = (cacheTtlMs: number) =>
  implement(CatalogServiceService, ({ db }) => catalogHandlers(new CachedProducts(productsIn(db), { ttlMs: cacheTtlMs })));

export const catalogService = catalogServiceWith(DEFAULT_PRODUCT_CACHE_TTL_MS);
