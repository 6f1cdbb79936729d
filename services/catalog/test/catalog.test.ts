import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { fieldViolationsOf } from "@bazaar/runtime/grpc/status";
import { msOfDuration } from "@bazaar/runtime/proto-duration";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { failureOf, startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogService, DEFAULT_PRODUCT_CACHE_TTL_MS } from "../src/service.js";
import { migrationsDir } from "../src/store.js";

// The catalog as clients see it: real gRPC on a free port, real migrations on
// a database of its own on the test cluster (PostgreSQL), through the typed promise client.

let service: Awaited<ReturnType<typeof startTestService>>;
let catalog: PromiseClient<typeof CatalogServiceService>;

beforeAll(async () => {
  service = await startTestService("catalog", { migrationsDir, services: [catalogService] });
  catalog = createClient(CatalogServiceService, service.address, { deadlineMs: 5000 });
});
afterAll(async () => {
  catalog?.close();
  await service?.stop();
});

describe("GetProduct", () => {
  it("returns a seeded product with its price in minor units", async () => {
    const { product } = await catalog.getProduct({ id: "espresso-machine" });
    expect(product).toMatchObject({
      id: "espresso-machine",
      name: "Dual Boiler Espresso Machine",
      price: { currencyCode: "EUR", minorUnits: 189900 },
      categories: ["machines", "espresso"],
    });
  });

  it("answers NOT_FOUND for an unknown id", async () => {
    const error = await failureOf(catalog.getProduct({ id: "no-such-product" }));
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toContain("no-such-product");
  });

  it.each(["", "NOT A SLUG"])("answers INVALID_ARGUMENT with a BadRequest naming `id` for %j", async (id) => {
    const error = await failureOf(catalog.getProduct({ id }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error)).toEqual([{ field: "id", description: expect.any(String) }]);
  });
});

describe("BatchGetProducts", () => {
  it("returns products in request order, duplicates once", async () => {
    const { products } = await catalog.batchGetProducts({ ids: ["v60-dripper", "aeropress-original", "v60-dripper"] });
    expect(products.map((p) => p.id)).toEqual(["v60-dripper", "aeropress-original"]);
  });

  it("says how long the answer may be kept: at most the cache's TTL, less for products read earlier", async () => {
    const first = await catalog.batchGetProducts({ ids: ["chemex-6-cup"] });
    expect(msOfDuration(first.maxAge)).toBeGreaterThan(0);
    expect(msOfDuration(first.maxAge)).toBeLessThanOrEqual(DEFAULT_PRODUCT_CACHE_TTL_MS);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await catalog.batchGetProducts({ ids: ["chemex-6-cup"] });
    expect(msOfDuration(again.maxAge)).toBeLessThan(msOfDuration(first.maxAge));
  });

  it("answers NOT_FOUND naming the missing id", async () => {
    const error = await failureOf(catalog.batchGetProducts({ ids: ["v60-dripper", "unicorn-beans"] }));
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toContain("unicorn-beans");
  });
});

describe("ListProducts", () => {
  it("pages through at least 20 products, in id order, each once", async () => {
    const pages: string[][] = [];
    let pageToken = "";
    do {
      const page = await catalog.listProducts({ pageSize: 5, pageToken });
      pages.push(page.products.map((p) => p.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && pages.length < 50);
    const ids = pages.flat();
    expect(ids.length).toBeGreaterThanOrEqual(20);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages.slice(0, -1).every((page) => page.length === 5)).toBe(true);
    expect(pages.at(-1)!.length).toBeGreaterThan(0);
  });

  it("uses a default page of 20", async () => {
    const page = await catalog.listProducts({ pageSize: 0, pageToken: "" });
    expect(page.products).toHaveLength(20);
    expect(page.nextPageToken).not.toBe("");
  });

  it("answers INVALID_ARGUMENT naming page_size and page_token", async () => {
    const error = await failureOf(catalog.listProducts({ pageSize: 500, pageToken: "not-a-token" }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error).map((v) => v.field)).toEqual(["page_size", "page_token"]);
  });
});

describe("hostile bytes", () => {
  /** Send raw bytes as the request body, bypassing any encoder. */
  function sendRaw(path: string, body: Buffer): Promise<ServiceError | undefined> {
    const client = new Client(service.address, credentials.createInsecure());
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        path,
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        body,
        new Metadata(),
        { deadline: Date.now() + 5000 },
        (error) => {
          client.close();
          resolve(error ?? undefined);
        },
      );
    });
  }

  it.each([
    ["a truncated length-delimited field", [0x0a, 0xff, 0x01]],
    ["an invalid wire type", [0x0f, 0x01]],
    ["a varint that never ends", [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ])("answers INVALID_ARGUMENT, not INTERNAL, for %s", async (_what, bytes) => {
    const error = await sendRaw("/bazaar.catalog.v1.CatalogService/ListProducts", Buffer.from(bytes));
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toContain("is not a valid protobuf message");
    expect((await catalog.getProduct({ id: "v60-dripper" })).product?.id).toBe("v60-dripper");
  });
});
