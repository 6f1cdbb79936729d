import { describe, expect, it } from "vitest";
import { parseBatchGetProducts, parseGetProduct, parseListProducts, type Product, toPage } from "../src/domain.js";
import { violationsOf } from "@bazaar/runtime/testing";

const product = (id: string): Product => ({
  id,
  name: id,
  description: "",
  price: { currencyCode: "EUR", minorUnits: 100 },
  categories: [],
});

describe("product ids", () => {
  it("accepts slugs", () => {
    expect(parseGetProduct({ id: "espresso-machine" })).toBe("espresso-machine");
    expect(parseGetProduct({ id: "v60" })).toBe("v60");
  });

  it.each([
    ["", "is required"],
    ["ab", "must be 3-64"],
    ["Espresso", "must be 3-64"],
    ["-leading-dash", "must be 3-64"],
    ["has space", "must be 3-64"],
    ["x".repeat(65), "must be 3-64"],
    ["'; drop table products; --", "must be 3-64"],
  ])("rejects %j naming the field", (id, description) => {
    const [violation] = violationsOf(() => parseGetProduct({ id }));
    expect(violation!.field).toBe("id");
    expect(violation!.description).toContain(description);
  });
});

describe("batch get", () => {
  it("dedupes ids keeping first-seen order", () => {
    expect(parseBatchGetProducts({ ids: ["b-product", "a-product", "b-product"] })).toEqual(["b-product", "a-product"]);
  });

  it("names every bad id by its index", () => {
    expect(violationsOf(() => parseBatchGetProducts({ ids: ["ok-id", "X", ""] })).map((v) => v.field)).toEqual([
      "ids[1]",
      "ids[2]",
    ]);
  });

  it("rejects an empty or oversized batch", () => {
    expect(violationsOf(() => parseBatchGetProducts({ ids: [] }))[0]!.field).toBe("ids");
    const ids = Array.from({ length: 101 }, (_, i) => `product-${i}`);
    expect(violationsOf(() => parseBatchGetProducts({ ids }))[0]!.field).toBe("ids");
  });
});

describe("list paging", () => {
  it("defaults page_size 0 to 20 and starts at the beginning", () => {
    expect(parseListProducts({ pageSize: 0, pageToken: "" })).toEqual({ pageSize: 20, afterId: undefined });
  });

  it.each([-1, 101, 1_000_000])("rejects page_size %d", (pageSize) => {
    expect(violationsOf(() => parseListProducts({ pageSize, pageToken: "" }))[0]!.field).toBe("page_size");
  });

  it.each(["garbage!", Buffer.from("{}").toString("base64url"), Buffer.from('{"after":1}').toString("base64url")])(
    "rejects a page_token it did not issue: %s",
    (pageToken) => {
      expect(violationsOf(() => parseListProducts({ pageSize: 5, pageToken }))[0]!.field).toBe("page_token");
    },
  );

  it("reports both bad fields at once", () => {
    expect(violationsOf(() => parseListProducts({ pageSize: -5, pageToken: "%%%" })).map((v) => v.field)).toEqual([
      "page_size",
      "page_token",
    ]);
  });

  it("round-trips the token of a full page and ends without one", () => {
    const rows = ["aaa", "bbb", "ccc"].map(product);
    const first = toPage(rows, 2);
    expect(first.products.map((p) => p.id)).toEqual(["aaa", "bbb"]);
    expect(parseListProducts({ pageSize: 2, pageToken: first.nextPageToken }).afterId).toBe("bbb");
    expect(toPage(rows.slice(2), 2)).toEqual({ products: [rows[2]], nextPageToken: "" });
    expect(toPage(rows.slice(0, 2), 2).nextPageToken).toBe("");
  });
});
