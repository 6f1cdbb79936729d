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
  private readonly entries = new Map<string, { product: Product; expires: number }>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly source: ProductSource,
    private readonly options: CacheOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get(id: string): Promise<Product | undefined> {
    return this.getMany([id]).then((products) => products[0]);
  }

  /** The products of `ids` that exist, in that order: from memory when every one is there (nearly every call), else one query for the rest. */
  getMany(ids: string[]): Promise<Product[]> {
    const now = this.now();
    const cached = ids.map((id) => {
      const entry = this.entries.get(id);
      return entry !== undefined && entry.expires > now ? entry.product : undefined;
    });
    if (!cached.includes(undefined)) return Promise.resolve(cached as Product[]);
    return this.readThrough(ids, cached, now);
  }

  private async readThrough(ids: string[], cached: Array<Product | undefined>, now: number): Promise<Product[]> {
    const found = new Map<string, Product>();
    const missing = ids.filter((_, index) => cached[index] === undefined);
    for (const product of await this.source.getMany(missing)) {
      found.set(product.id, product);
      this.remember(product, now);
    }
    return ids.flatMap((id, index) => {
      const product = cached[index] ?? found.get(id);
      return product === undefined ? [] : [product];
    });
  }

  list(afterId: string | undefined, limit: number): Promise<Product[]> {
    return this.source.list(afterId, limit);
  }

  private remember(product: Product, now: number): void {
    if (this.options.ttlMs <= 0) return;
    this.entries.delete(product.id); // re-inserted last: the Map's order is the eviction order
    this.entries.set(product.id, { product, expires: now + this.options.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
