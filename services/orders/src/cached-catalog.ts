import { type CatalogServiceService, type Product } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { ExpiringMap, leastTimeLeft } from "@bazaar/runtime/expiring-map";
import { type PromiseClient } from "@bazaar/runtime/grpc/client";
import { durationOfMs, msOfDuration } from "@bazaar/runtime/proto-duration";

/** What the saga asks of the catalog. */
export type Catalog = Pick<PromiseClient<typeof CatalogServiceService>, "batchGetProducts">;

export interface CachedCatalogOptions {
  /** At most this many products are kept (the one kept longest ago goes first). */
  maxEntries?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/**
 * The catalog's products, kept for as long as the catalog says its answer
 * stays fresh (BatchGetProductsResponse.max_age: what is left of the time the
 * catalog itself serves a product from memory). So a basket of known products
 * is priced without a call, and a changed price still reaches new orders no
 * later than if every order asked: the catalog's PRODUCT_CACHE_TTL_MS bounds
 * both. An answer without max_age (a catalog with its cache off) is not kept.
 * Only whole answers are kept: an unknown id, a refusal or a failure always goes
 * to the catalog and comes back as it answers.
 */
export function cachedCatalog(catalog: Catalog, options: CachedCatalogOptions = {}): Catalog {
  const products = new ExpiringMap<string, Product>(options.maxEntries ?? 10_000);
  const now = options.now ?? Date.now;
  return {
    batchGetProducts(request, callOptions) {
      const asked = now();
      // As the catalog answers: each id once, in the order of its first occurrence.
      const known = [...new Set(request.ids)].map((id) => products.lookup(id, asked));
      if (known.length > 0 && !known.includes(undefined)) {
        const entries = known as Array<{ value: Product; expiresAt: number }>;
        return Promise.resolve({ products: entries.map((entry) => entry.value), maxAge: durationOfMs(leastTimeLeft(entries, asked)) });
      }
      return catalog.batchGetProducts(request, callOptions).then((response) => {
        // Counted from when the question was sent, so the answer is never kept past the catalog's bound.
        const maxAgeMs = msOfDuration(response.maxAge);
        if (maxAgeMs > 0) for (const product of response.products) products.set(product.id, product, asked + maxAgeMs);
        return response;
      });
    },
  };
}
