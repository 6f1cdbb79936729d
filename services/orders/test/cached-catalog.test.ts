import { type BatchGetProductsRequest, type BatchGetProductsResponse, type Product } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { notFound } from "@bazaar/runtime/errors";
import { durationOfMs } from "@bazaar/runtime/proto-duration";
import { describe, expect, it } from "vitest";
import { type Catalog, cachedCatalog } from "../src/cached-catalog.js";

// The catalog's answers kept for their max_age, in front of a catalog that counts what it is
// asked (a fake at the edge: the real exchange is in orders.test.ts and the mesh's tests).

const product = (id: string, minorUnits = 100): Product => ({ id, name: id, description: "", price: { currencyCode: "EUR", minorUnits }, categories: [] });

function countingCatalog(maxAgeMs: number | undefined) {
  const asked: string[][] = [];
  const rows = new Map(["a", "b", "c"].map((id) => [id, product(id)]));
  const catalog: Catalog = {
    batchGetProducts: async ({ ids }: BatchGetProductsRequest): Promise<BatchGetProductsResponse> => {
      asked.push([...ids]);
      const missing = ids.find((id) => !rows.has(id));
      if (missing !== undefined) throw notFound(`product ${missing} not found`);
      return { products: [...new Set(ids)].map((id) => rows.get(id)!), maxAge: maxAgeMs === undefined ? undefined : durationOfMs(maxAgeMs) };
    },
  };
  return { catalog, asked, rows };
}

const idsOf = (response: BatchGetProductsResponse) => response.products.map((p) => p.id);

describe("the catalog's answers, kept for their max_age", () => {
  it("answers a basket of kept products without a call until max_age has passed since the question", async () => {
    let now = 0;
    const { catalog, asked, rows } = countingCatalog(1000);
    const cached = cachedCatalog(catalog, { now: () => now });
    await cached.batchGetProducts({ ids: ["a", "b"] });
    rows.set("a", product("a", 250));
    now = 999;
    const kept = await cached.batchGetProducts({ ids: ["b", "a", "b"] });
    expect(idsOf(kept)).toEqual(["b", "a"]);
    expect(kept.products[1]!.price!.minorUnits).toBe(100);
    expect(kept.maxAge).toEqual(durationOfMs(1));
    now = 1000;
    expect((await cached.batchGetProducts({ ids: ["a"] })).products[0]!.price!.minorUnits).toBe(250);
    expect(asked).toEqual([["a", "b"], ["a"]]);
  });

  it("asks for a whole basket when any product of it is not kept", async () => {
    const { catalog, asked } = countingCatalog(60_000);
    const cached = cachedCatalog(catalog);
    await cached.batchGetProducts({ ids: ["a"] });
    expect(idsOf(await cached.batchGetProducts({ ids: ["c", "a"] }))).toEqual(["c", "a"]);
    expect(asked).toEqual([["a"], ["c", "a"]]);
  });

  it("keeps nothing when the catalog gives no max_age or zero", async () => {
    for (const maxAgeMs of [undefined, 0]) {
      const { catalog, asked } = countingCatalog(maxAgeMs);
      const cached = cachedCatalog(catalog);
      await cached.batchGetProducts({ ids: ["a"] });
      await cached.batchGetProducts({ ids: ["a"] });
      expect(asked).toEqual([["a"], ["a"]]);
    }
  });

  it("passes a refusal through every time, and keeps nothing of it", async () => {
    const { catalog, asked } = countingCatalog(60_000);
    const cached = cachedCatalog(catalog);
    await cached.batchGetProducts({ ids: ["a"] });
    for (let i = 0; i < 2; i += 1) await expect(cached.batchGetProducts({ ids: ["a", "nope"] })).rejects.toThrow(/product nope not found/);
    await expect(cached.batchGetProducts({ ids: [] })).resolves.toMatchObject({ products: [] });
    expect(asked).toEqual([["a"], ["a", "nope"], ["a", "nope"], []]);
  });

  it("counts max_age from when the question was sent, not from the answer", async () => {
    let now = 0;
    const { catalog, asked } = countingCatalog(1000);
    const slow: Catalog = { batchGetProducts: (request) => ((now = 400), catalog.batchGetProducts(request)) };
    const cached = cachedCatalog(slow, { now: () => now });
    await cached.batchGetProducts({ ids: ["a"] });
    now = 1000;
    await cached.batchGetProducts({ ids: ["a"] });
    expect(asked).toEqual([["a"], ["a"]]);
  });

  it("keeps at most maxEntries products", async () => {
    const { catalog, asked } = countingCatalog(60_000);
    const cached = cachedCatalog(catalog, { maxEntries: 2 });
    await cached.batchGetProducts({ ids: ["a", "b", "c"] }); // a goes: kept longest ago
    await cached.batchGetProducts({ ids: ["b", "c"] });
    await cached.batchGetProducts({ ids: ["a"] });
    expect(asked).toEqual([["a", "b", "c"], ["a"]]);
  });
});
