import { createHash } from "node:crypto";
import { type ErrorKind, preconditionFailed, Violations } from "@bazaar/runtime/errors";
import { checkCustomerId, checkId, checkIdempotencyKey, checkProductId } from "@bazaar/shop/ids";
import { readPageSize, readPageToken } from "@bazaar/runtime/pagination";
import { type Money } from "@bazaar/gen/bazaar/common/v1/money";

/** Orders' rules, free of I/O: what a valid order is, how it is priced, which transitions are allowed. */

export type OrderStatus = "PENDING" | "CONFIRMED" | "REJECTED" | "CANCELLED";

export interface OrderLine {
  productId: string;
  productName: string;
  quantity: number;
  unitPrice: Money;
}

export interface Order {
  id: string;
  customerId: string;
  status: OrderStatus;
  statusReason: string;
  /** The kind of failure a rejected order answered with. */
  failureKind: ErrorKind | undefined;
  lines: OrderLine[];
  total: Money | undefined;
  paymentId: string;
  requestDigest: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface PlaceOrderCommand {
  customerId: string;
  items: Array<{ productId: string; quantity: number }>;
  paymentToken: string;
  idempotencyKey: string;
}

export const MAX_LINES = 50;
export const MAX_QUANTITY = 100;

export function parsePlaceOrder(request: PlaceOrderCommand): PlaceOrderCommand {
  const violations = new Violations();
  checkCustomerId(request.customerId, violations, "customer_id");
  if (request.items.length === 0) violations.add("items", "at least one item is required");
  if (request.items.length > MAX_LINES) violations.add("items", `at most ${MAX_LINES} items per order`);
  else {
    const seen = new Set<string>();
    request.items.forEach((item, index) => {
      checkProductId(item.productId, violations, `items[${index}].product_id`);
      if (seen.has(item.productId)) violations.add(`items[${index}].product_id`, "appears twice; put the quantities in one item");
      seen.add(item.productId);
      if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > MAX_QUANTITY) {
        violations.add(`items[${index}].quantity`, `must be between 1 and ${MAX_QUANTITY}`);
      }
    });
  }
  if (request.paymentToken === "") violations.add("payment_token", "is required");
  else if (request.paymentToken.length > 64) violations.add("payment_token", "must be at most 64 characters");
  checkIdempotencyKey(request.idempotencyKey, violations, "idempotency_key");
  violations.throwIfAny();
  return request;
}

/**
 * A fingerprint of what was asked, stored with the idempotency key: a retry
 * carries the same request, a reused key with another request is refused. The
 * payment token is hashed with the rest, never stored.
 */
export function requestDigest(command: PlaceOrderCommand): string {
  const canonical = JSON.stringify([command.customerId, command.items.map((i) => [i.productId, i.quantity]), command.paymentToken]);
  return createHash("sha256").update(canonical).digest("hex");
}

export interface PricedProduct {
  id: string;
  name: string;
  price: Money;
}

/** Order lines at the catalog's prices, and their total. One currency per order. */
export function priceOrder(items: PlaceOrderCommand["items"], products: PricedProduct[]): { lines: OrderLine[]; total: Money } {
  const byId = new Map(products.map((product) => [product.id, product]));
  const lines = items.map((item) => {
    const product = byId.get(item.productId);
    if (!product) throw new Error(`catalog did not return ${item.productId}`);
    return { productId: product.id, productName: product.name, quantity: item.quantity, unitPrice: product.price };
  });
  const currencies = new Set(lines.map((line) => line.unitPrice.currencyCode));
  if (currencies.size > 1) throw preconditionFailed(`items are priced in several currencies (${[...currencies].join(", ")})`);
  const minorUnits = lines.reduce((sum, line) => sum + lineTotal(line).minorUnits, 0);
  return { lines, total: { currencyCode: lines[0]!.unitPrice.currencyCode, minorUnits } };
}

export function lineTotal(line: OrderLine): Money {
  return { currencyCode: line.unitPrice.currencyCode, minorUnits: line.unitPrice.minorUnits * line.quantity };
}

/** What CancelOrder does with an order in this state. */
export function cancelAction(order: Order): "cancel" | "already-cancelled" {
  if (order.status === "CONFIRMED") return "cancel";
  if (order.status === "CANCELLED") return "already-cancelled";
  if (order.status === "PENDING") throw preconditionFailed(`order ${order.id} is still being placed; retry`);
  throw preconditionFailed(`order ${order.id} was rejected and cannot be cancelled`);
}

export function parseOrderId(request: { orderId: string }): string {
  const violations = new Violations();
  checkId("ord", request.orderId, violations, "order_id");
  violations.throwIfAny();
  return request.orderId;
}

export function parseCancelOrder(request: { orderId: string; reason: string }): { orderId: string; reason: string } {
  const violations = new Violations();
  checkId("ord", request.orderId, violations, "order_id");
  if (request.reason.length > 500) violations.add("reason", "must be at most 500 characters");
  violations.throwIfAny();
  return { orderId: request.orderId, reason: request.reason || "cancelled by the customer" };
}

export interface OrderPageQuery {
  customerId: string;
  pageSize: number;
  /** Continue after this (created_at, id), newest first. */
  after: { createdAt: string; id: string } | undefined;
}

export function parseListOrders(request: { customerId: string; pageSize: number; pageToken: string }): OrderPageQuery {
  const violations = new Violations();
  checkCustomerId(request.customerId, violations, "customer_id");
  const pageSize = readPageSize(request.pageSize, violations);
  let cursor = readPageToken(request.pageToken, ["createdAt", "id"], violations);
  // The timestamp goes to SQL as a timestamptz: a forged one must be the client's error, not INTERNAL.
  if (cursor && !isCursorTimestamp(cursor.createdAt)) {
    violations.add("page_token", "is not a token returned by a previous page of this list");
    cursor = undefined;
  }
  violations.throwIfAny();
  return { customerId: request.customerId, pageSize, after: cursor };
}

/**
 * A UTC timestamp as page tokens carry it, e.g. "2026-01-02T03:04:05.123456Z",
 * that PostgreSQL accepts: a real calendar date and time (Date.parse alone takes
 * "02-31" and "24:00"), in years 0001-9999.
 */
function isCursorTimestamp(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(value) || value.startsWith("0000")) return false;
  const millis = Date.parse(value);
  return !Number.isNaN(millis) && new Date(millis).toISOString().slice(0, 19) === value.slice(0, 19);
}
