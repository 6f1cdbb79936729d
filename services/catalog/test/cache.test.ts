import { describe, expect, it } from "vitest";
import { CachedProducts, type ProductSource } from "../src/cache.js";
import { type Product } from "../src/domain.js";

// The product cache in front of a store that counts what it is asked (a fake at the edge: the
// database is covered by catalog.test.ts).

const product = (id: string, minorUnits = 100): Product => ({ id, name: id, description: "", price: { currencyCode: "EUR", minorUnits }, categories: [] });

function countingStore(products: Product[]) {
  const asked: string[][] = [];
  const rows = new Map(products.map((p) => [p.id, p]));
  const store: ProductSource = {
    get: async (id) => rows.get(id),
    getMany: async (ids) => {
      asked.push([...ids]);
      return ids.flatMap((id) => (rows.has(id) ? [rows.get(id)!] : []));
    },
    list: async () => [...rows.values()],
  };
  return { store, asked, rows };
}

describe("the product cache", () => {
  it("asks the store once per product within the TTL, and again after it", async () => {
    let now = 0;
    const { store, asked, rows } = countingStore([product("a", 100)]);
    const cache = new CachedProducts(store, { ttlMs: 1000, now: () => now });
    expect((await cache.get("a"))?.price.minorUnits).toBe(100);
    rows.set("a", product("a", 250));
    now = 999;
    expect((await cache.get("a"))?.price.minorUnits).toBe(100);
    now = 1000;
    expect((await cache.get("a"))?.price.minorUnits).toBe(250);
    expect(asked).toEqual([["a"], ["a"]]);
  });

  it("asks only for the misses of a batch, and keeps the caller's order", async () => {
    const { store, asked } = countingStore([product("a"), product("b"), product("c")]);
    const cache = new CachedProducts(store, { ttlMs: 60_000 });
    await cache.get("b");
    expect((await cache.getMany(["c", "b", "a"])).map((p) => p.id)).toEqual(["c", "b", "a"]);
    expect(asked).toEqual([["b"], ["c", "a"]]);
  });

  it("does not remember unknown ids, and keeps at most maxEntries products", async () => {
    const { store, asked } = countingStore([product("a"), product("b"), product("c")]);
    const cache = new CachedProducts(store, { ttlMs: 60_000, maxEntries: 2 });
    expect(await cache.get("nope")).toBeUndefined();
    expect(await cache.get("nope")).toBeUndefined();
    await cache.getMany(["a", "b", "c"]); // a is evicted: the oldest
    await cache.getMany(["b", "c"]);
    await cache.get("a");
    expect(asked).toEqual([["nope"], ["nope"], ["a", "b", "c"], ["a"]]);
  });

  it("is off with a TTL of 0", async () => {
    const { store, asked } = countingStore([product("a")]);
    const cache = new CachedProducts(store, { ttlMs: 0 });
    await cache.get("a");
    await cache.get("a");
    expect(asked).toEqual([["a"], ["a"]]);
  });

  it("says how long an answer stays within the TTL: all of it when read now, what is left when from memory, the least of a batch", async () => {
    let now = 0;
    const { store } = countingStore([product("a"), product("b")]);
    const cache = new CachedProducts(store, { ttlMs: 1000, now: () => now });
    expect(await cache.getFresh(["a"])).toMatchObject({ freshForMs: 1000 });
    now = 300;
    expect(await cache.getFresh(["a"])).toMatchObject({ freshForMs: 700 });
    expect(await cache.getFresh(["b", "a"])).toMatchObject({ products: [{ id: "b" }, { id: "a" }], freshForMs: 700 });
    now = 500;
    expect(await cache.getFresh(["b"])).toMatchObject({ freshForMs: 800 });
  });

  it("says 0 with the cache off", async () => {
    const { store } = countingStore([product("a")]);
    const cache = new CachedProducts(store, { ttlMs: 0 });
    expect(await cache.getFresh(["a"])).toMatchObject({ products: [{ id: "a" }], freshForMs: 0 });
  });
});
