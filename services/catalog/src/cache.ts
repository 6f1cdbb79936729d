import { ExpiringMap, leastTimeLeft } from "@bazaar/runtime/expiring-map";
import { type Product } from "./domain.js";

/** What the handlers read products through: the store itself, or this cache in front of it. */
export interface ProductSource {
  get(id: string): Promise<Product | undefined>;
  getMany(ids: string[]): Promise<Product[]>;
  list(afterId: string | undefined, limit: number): Promise<Product[]>;
}

export interface CacheOptions {
  /** How long a product read from the database is served from memory; 0 turns the cache off. */
  ttlMs: number;
  /** At most this many products are kept (the oldest entry goes first). */
  maxEntries?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** Products, and how long they may still be served as they are (the least time any of them has left). */
export interface FreshProducts {
  products: Product[];
  freshForMs: number;
}

/**
 * A read-through cache of products by id. Every order prices its lines with
 * BatchGetProducts and the product pages ask GetProduct, always for the same
 * few hundred rows, which only a migration changes: a query per call made the
 * catalog the slowest hop (bench/analysis.md). A product is served from memory
 * for `ttlMs`, so a changed price reaches orders within that time. Unknown ids
 * are not cached (a client sending random ids cannot fill the memory with
 * them); pages (list) always come from the database.
 */
export class CachedProducts implements ProductSource {
  private readonly entries: ExpiringMap<string, Product>;
  private readonly now: () => number;

  constructor(
    private readonly source: ProductSource,
    private readonly options: CacheOptions,
  ) {
    this.entries = new ExpiringMap(options.maxEntries ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  get(id: string): Promise<Product | undefined> {
    return this.getMany([id]).then((products) => products[0]);
  }

  getMany(ids: string[]): Promise<Product[]> {
    return this.getFresh(ids).then((fresh) => fresh.products);
  }

  /**
   * The products of `ids` that exist, in that order, and how long the answer
   * stays within the TTL: from memory when every one is there (nearly every
   * call), else one query for the rest. With the cache off, fresh for 0 ms.
   */
  getFresh(ids: string[]): Promise<FreshProducts> {
    const now = this.now();
    const cached = ids.map((id) => this.entries.lookup(id, now));
    if (!cached.includes(undefined)) {
      const entries = cached as Array<{ value: Product; expiresAt: number }>;
      return Promise.resolve({ products: entries.map((entry) => entry.value), freshForMs: Math.min(this.options.ttlMs, leastTimeLeft(entries, now)) });
    }
    return this.readThrough(ids, cached, now);
  }

  private async readThrough(ids: string[], cached: Array<{ value: Product; expiresAt: number } | undefined>, now: number): Promise<FreshProducts> {
    const found = new Map<string, Product>();
    const missing = ids.filter((_, index) => cached[index] === undefined);
    for (const product of await this.source.getMany(missing)) {
      found.set(product.id, product);
      if (this.options.ttlMs > 0) this.entries.set(product.id, product, now + this.options.ttlMs);
    }
    const hits = cached.filter((entry) => entry !== undefined);
    // What was read now has the whole TTL ahead; what came from memory, what it has left.
    const freshForMs = this.options.ttlMs > 0 ? Math.min(this.options.ttlMs, leastTimeLeft(hits, now)) : 0;
    const products = ids.flatMap((id, index) => {
      const product = cached[index]?.value ?? found.get(id);
      return product === undefined ? [] : [product];
    });
    return { products, freshForMs };
  }

  list(afterId: string | undefined, limit: number): Promise<Product[]> {
    return this.source.list(afterId, limit);
  }
}
