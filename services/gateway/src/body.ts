import { Violations } from "@bazaar/runtime/errors";
import { type CancelOrderRequest, type LineItem, type PlaceOrderRequest } from "@bazaar/gen/bazaar/orders/v1/orders";
import { badRequest } from "./http-error.js";

/*
 * JSON bodies and query strings → typed requests. Only the *shape* is checked
 * here (a string is a string, a quantity is a whole number that fits int32):
 * what the values mean (ranges, id formats, required fields) is the service's
 * rule, and its INVALID_ARGUMENT comes back to the client unchanged. Fields are
 * named by their proto names ("items[0].quantity"), as the services name them.
 * Like the proto3 JSON mapping, a field may be spelled snake_case or
 * lowerCamelCase, null means "not set", and unknown fields are ignored.
 */

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The field's value under its proto name or its lowerCamelCase JSON name; undefined if absent or null. */
function field(object: JsonObject, protoName: string): unknown {
  const jsonName = protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  // Own properties only: a body must not reach Object.prototype through a name.
  const value = Object.hasOwn(object, protoName) ? object[protoName] : Object.hasOwn(object, jsonName) ? object[jsonName] : undefined;
  return value === null ? undefined : value;
}

function stringField(object: JsonObject, protoName: string, path: string, problems: Violations): string {
  const value = field(object, protoName);
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  problems.add(path, "must be a string");
  return "";
}

function int32Field(object: JsonObject, protoName: string, path: string, problems: Violations): number {
  const value = field(object, protoName);
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    problems.add(path, "must be a whole number");
    return 0;
  }
  // Protobuf would silently wrap a bigger number into int32: 4294967297 would become 1.
  if (value < INT32_MIN || value > INT32_MAX) {
    problems.add(path, "is out of range for a 32-bit integer");
    return 0;
  }
  return value;
}

function requireObject(body: unknown): JsonObject {
  if (!isObject(body)) throw badRequest("body must be a JSON object");
  return body;
}

/** POST /api/orders: {"customer_id", "items": [{"product_id", "quantity"}], "payment_token"}. */
export function placeOrderRequestOf(body: unknown, idempotencyKey: string): PlaceOrderRequest {
  const object = requireObject(body);
  const problems = new Violations();
  const customerId = stringField(object, "customer_id", "customer_id", problems);
  const items = lineItemsOf(field(object, "items"), problems);
  const paymentToken = stringField(object, "payment_token", "payment_token", problems);
  problems.throwIfAny();
  return { customerId, items, paymentToken, idempotencyKey };
}

function lineItemsOf(value: unknown, problems: Violations): LineItem[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.add("items", "must be an array of {product_id, quantity} objects");
    return [];
  }
  return value.map((item: unknown, index) => {
    const path = `items[${index}]`;
    if (!isObject(item)) {
      problems.add(path, "must be an object with product_id and quantity");
      return { productId: "", quantity: 0 };
    }
    return {
      productId: stringField(item, "product_id", `${path}.product_id`, problems),
      quantity: int32Field(item, "quantity", `${path}.quantity`, problems),
    };
  });
}

/** POST /api/orders/{id}/cancel: an optional {"reason"}. */
export function cancelOrderRequestOf(orderId: string, body: unknown): CancelOrderRequest {
  if (body === undefined) return { orderId, reason: "" };
  const problems = new Violations();
  const reason = stringField(requireObject(body), "reason", "reason", problems);
  problems.throwIfAny();
  return { orderId, reason };
}

/** ?page_size=&page_token= of every List route. */
export function pageRequestOf(query: URLSearchParams): { pageSize: number; pageToken: string } {
  const problems = new Violations();
  const text = (query.get("page_size") ?? "").trim();
  let pageSize = 0;
  if (text !== "") {
    const parsed = Number(text);
    if (!/^[+-]?\d+$/.test(text)) problems.add("page_size", "must be a whole number");
    else if (parsed < INT32_MIN || parsed > INT32_MAX) problems.add("page_size", "is out of range for a 32-bit integer");
    else pageSize = parsed;
  }
  problems.throwIfAny();
  return { pageSize, pageToken: query.get("page_token") ?? "" };
}

/** The Idempotency-Key header PlaceOrder requires; retries of one order reuse it. */
export function idempotencyKeyOf(header: string | undefined): string {
  const key = header?.trim() ?? "";
  if (key === "") throw badRequest("the Idempotency-Key header is required: choose a unique key per order and reuse it on retries");
  return key;
}
