/**
 * Hostile HTTP requests for the gateway's routes: ids and query values that are
 * long, unicode, badly percent-encoded or injection-shaped; JSON bodies with
 * wrong types, hostile values, deep nesting and prototype keys; bodies that are
 * not JSON at all; wrong methods and content types; missing, malformed and
 * tampered bearer tokens. Most requests to a customer route carry the valid
 * token of VALID_CUSTOMER, so they get past authentication to the handler.
 */
import { type Random } from "./random.js";

export interface HostileHttpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** The customer whose valid token hostileHttpRequest is given. */
export const VALID_CUSTOMER = "alice";
const VALID_ORDER = { customer_id: VALID_CUSTOMER, items: [{ product_id: "v60-dripper", quantity: 1 }], payment_token: "tok_visa" };

/** `token`: a bearer token of VALID_CUSTOMER that the gateway accepts. */
export function hostileHttpRequest(random: Random, token: string): HostileHttpRequest {
  const asCustomer = (headers: Record<string, string>) => ({ ...headers, ...authorization(random, token) });
  switch (random.int(0, 6)) {
    case 0:
      return { method: "GET", path: `/api/products${query(random)}`, headers: {} };
    case 1:
      return { method: random.pick(["GET", "HEAD"]), path: `/api/products/${segment(random)}`, headers: {} };
    case 2:
      return { method: "POST", path: "/api/orders", headers: asCustomer(orderHeaders(random)), body: body(random, VALID_ORDER) };
    case 3:
      return { method: "GET", path: `/api/orders/${segment(random)}`, headers: asCustomer({}) };
    case 4:
      return { method: "POST", path: `/api/orders/${segment(random)}/cancel`, headers: asCustomer({ "content-type": "application/json" }), body: body(random, { reason: "changed my mind" }) };
    case 5: {
      // Half of them for the token's own customer, so hostile paging reaches the notifications service.
      const customer = random.chance(0.5) ? VALID_CUSTOMER : segment(random);
      return { method: "GET", path: `/api/customers/${customer}/notifications${query(random)}`, headers: asCustomer({}) };
    }
    default: {
      // Wrong methods, unknown paths, paths that climb (fetch sends no body with GET).
      const method = random.pick(["PUT", "DELETE", "PATCH", "OPTIONS", "POST", "GET"]);
      return {
        method,
        path: random.pick(["/api/products", "/api/orders", "/api/../../etc/passwd", `/api/${segment(random)}`, "/api/orders//cancel", "//", "/%2e%2e/%2e%2e"]),
        headers: {},
        ...(method !== "GET" && random.chance(0.5) ? { body: body(random, VALID_ORDER) } : {}),
      };
    }
  }
}

/** Usually the valid token; otherwise none, another scheme, a tampered token or a hostile string. */
function authorization(random: Random, token: string): Record<string, string> {
  if (random.chance(0.75)) return { authorization: `Bearer ${token}` };
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  switch (random.int(0, 6)) {
    case 0:
      return {};
    case 1:
      return { authorization: random.pick(["Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "bearer", token, `Bearer ${token} ${token}`]) };
    case 2:
      // One character of the token changed, or the token cut short.
      return { authorization: `Bearer ${random.chance(0.5) ? token.slice(0, random.int(0, token.length - 1)) : flipOne(random, token)}` };
    case 3:
      // Hostile claims under the original signature, or no signature at all (alg none).
      return { authorization: `Bearer ${random.chance(0.5) ? header : base64url({ alg: "none", typ: "JWT" })}.${base64url(hostileJson(random, 2))}.${random.chance(0.5) ? signature : ""}` };
    case 4:
      return { authorization: `Bearer ${header}.${payload}.${base64url(random.hostileString(500))}` };
    default:
      // Header values must be ByteStrings: hostile, but printable latin-1.
      return { authorization: `Bearer ${printable(random.hostileString(random.pick([100, 4000])))}` };
  }
}

function flipOne(random: Random, text: string): string {
  const at = random.int(0, text.length - 1);
  return `${text.slice(0, at)}${text[at] === "A" ? "B" : "A"}${text.slice(at + 1)}`;
}

const printable = (text: string) => [...text].map((char) => (char.charCodeAt(0) > 0x1f && char.charCodeAt(0) < 0x7f ? char : "?")).join("");

/** A path segment: plausible, hostile and percent-encoded, or raw percent-garbage. */
function segment(random: Random): string {
  if (random.chance(0.15)) return random.pick(["%zz", "%", "%E0%A4%A", "%00", "%C0%AF", "..", "."]);
  const text = random.hostileString().slice(0, random.pick([64, 300, 3000]));
  return encoded(text) || "x";
}

/** Percent-encoded; a lone surrogate (which encodeURIComponent refuses) becomes its raw, invalid UTF-8 bytes. */
function encoded(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "")) + "%ED%A0%80";
  }
}

function query(random: Random): string {
  if (random.chance(0.2)) return "";
  const parts: string[] = [];
  for (let i = 0; i < random.int(1, 3); i++) {
    const name = random.pick(["page_size", "page_token", "pageSize", "pageToken", "page_size", "x"]);
    const value = random.chance(0.5) ? String(random.hostileNumber()) : random.hostileString().slice(0, 500);
    parts.push(`${name}=${random.chance(0.1) ? value : encoded(value)}`);
  }
  return `?${parts.join("&")}`;
}

function orderHeaders(random: Random): Record<string, string> {
  const headers: Record<string, string> = { "content-type": random.pick(["application/json", "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded"]) };
  if (random.chance(0.85)) {
    // Header values must be ByteStrings: hostile, but latin-1.
    const key = random.chance(0.5) ? `fuzz-${random.int(0, 1e9)}-${random.int(0, 1e9)}` : random.hostileString().slice(0, 400);
    headers["idempotency-key"] = printable(key);
  }
  return headers;
}

function body(random: Random, valid: Record<string, unknown>): string | Uint8Array {
  switch (random.int(0, 5)) {
    case 0:
      return new Uint8Array(random.bytes(random.int(0, 200)));
    case 1:
      // Malformed JSON.
      return random.pick(["{", "{\"customer_id\":", "[1,2", "nul", "{\"a\":1}}", "\"\\ud800\"", "{'single': 'quotes'}", ""]);
    case 2:
      return JSON.stringify(hostileJson(random, 0));
    case 3:
      // Deep nesting.
      return `${"[".repeat(random.pick([100, 5000]))}${"]".repeat(random.pick([100, 5000]))}`;
    default:
      return JSON.stringify(mutatedJson(random, valid, 0));
  }
}

/** `value` with some of its fields (at any depth) replaced by hostile JSON, or extra prototype-shaped keys. */
function mutatedJson(random: Random, value: unknown, depth: number): unknown {
  if (Array.isArray(value)) return value.map((item) => (random.chance(0.3) ? hostileJson(random, depth + 1) : mutatedJson(random, item, depth + 1)));
  if (typeof value === "object" && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) copy[key] = random.chance(0.35) ? hostileJson(random, depth + 1) : mutatedJson(random, field, depth + 1);
    if (random.chance(0.1)) copy[random.pick(["__proto__", "constructor", "prototype", "customerId", "paymentToken", "items"])] = hostileJson(random, depth + 1);
    return copy;
  }
  return value;
}

/** Hostile JSON; only the top level gets very long strings and long arrays, so a body stays a few MB at most. */
function hostileJson(random: Random, depth: number): unknown {
  switch (random.int(0, 8)) {
    case 0:
      return random.hostileString(depth <= 1 ? 100_000 : 500);
    case 1:
      // NaN and Infinity serialize as null.
      return random.hostileNumber();
    case 2:
      return random.pick([true, false, null]);
    case 3:
      return depth > 3 ? [] : Array.from({ length: depth <= 1 ? random.pick([0, 1, 3, 101, 1000]) : random.pick([0, 1, 3]) }, () => hostileJson(random, depth + 2));
    case 4:
      return depth > 3 ? {} : { customer_id: hostileJson(random, depth + 1), items: hostileJson(random, depth + 1), quantity: hostileJson(random, depth + 1) };
    case 5:
      return [{ product_id: random.hostileString(depth <= 1 ? 100_000 : 500), quantity: random.hostileNumber() }];
    case 6:
      return random.pick(["1e400", "-0", "0x10", "1_000"]);
    default:
      return random.int(-1e6, 1e6);
  }
}
