import { Violations } from "@bazaar/runtime/errors";
import { checkProductId } from "@bazaar/shop/ids";
import { encodePageToken, readPageSize, readPageToken } from "@bazaar/runtime/pagination";

/** The catalog's rules, free of I/O: what a product id is, how a listing is paged. */

export interface Product {
  id: string;
  name: string;
  description: string;
  price: { currencyCode: string; minorUnits: number };
  categories: string[];
}

export const MAX_BATCH_SIZE = 100;

export function parseGetProduct(request: { id: string }): string {
  const violations = new Violations();
  checkProductId(request.id, violations, "id");
  violations.throwIfAny();
  return request.id;
}

/** The distinct ids asked for, in first-seen order. */
export function parseBatchGetProducts(request: { ids: string[] }): string[] {
  const violations = new Violations();
  if (request.ids.length === 0) violations.add("ids", "at least one id is required");
  if (request.ids.length > MAX_BATCH_SIZE) violations.add("ids", `at most ${MAX_BATCH_SIZE} ids per call`);
  request.ids.forEach((id, index) => checkProductId(id, violations, `ids[${index}]`));
  violations.throwIfAny();
  return [...new Set(request.ids)];
}

export interface ProductPageQuery {
  pageSize: number;
  /** List ids strictly after this one; undefined for the first page. */
  afterId: string | undefined;
}

export function parseListProducts(request: { pageSize: number; pageToken: string }): ProductPageQuery {
  const violations = new Violations();
  const pageSize = readPageSize(request.pageSize, violations);
  const cursor = readPageToken(request.pageToken, ["after"], violations);
  violations.throwIfAny();
  return { pageSize, afterId: cursor?.after };
}

/**
 * Cut a page from rows fetched with one extra row (limit pageSize + 1): the
 * extra row only tells that another page exists, so the last page never ends
 * with a token that leads to an empty page.
 */
export function toPage(rows: Product[], pageSize: number): { products: Product[]; nextPageToken: string } {
  const products = rows.slice(0, pageSize);
  const last = products.at(-1);
  const nextPageToken = rows.length > pageSize && last ? encodePageToken({ after: last.id }) : "";
  return { products, nextPageToken };
}
