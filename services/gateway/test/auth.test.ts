import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { type sendUnaryData, type ServerUnaryCall, status } from "@grpc/grpc-js";
import { decodeJwt, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ListNotificationsRequest, NotificationServiceService } from "@bazaar/gen/bazaar/notifications/v1/notifications";
import { type Order, OrderServiceService, type OrderServiceServer, OrderStatus, type PlaceOrderRequest } from "@bazaar/gen/bazaar/orders/v1/orders";
import { parseConfig } from "@bazaar/runtime/config";
import { repoRoot } from "../../../lib/test/support/process.js";
import { devEnvFile } from "../../../scripts/dev-env.js";
import { MAX_TOKEN_AGE_SECONDS, signCustomerToken, verifyCustomerToken } from "@bazaar/shop/customer-token";
import { bearerAuthentication } from "../src/bearer.js";
import { authConfig } from "../src/config.js";
import { bearer, type ErrorJson, failWith, type FakeServer, postJson, startFakeServer, startTestGateway, testAuth } from "./support.js";

// Customers' bearer tokens, over real HTTP on a real gateway in front of fake
// orders and notifications services that remember what they were told: an
// order belongs to whoever placed it, as in the real orders service.

const orders = new Map<string, Order>();
const placed: PlaceOrderRequest[] = [];
const cancelled: string[] = [];
const listed: ListNotificationsRequest[] = [];

const fakeOrders: OrderServiceServer = {
  placeOrder: (call, callback) => {
    placed.push(call.request);
    const now = new Date();
    const order: Order = {
      id: `ord_${randomUUID().replaceAll("-", "")}`,
      customerId: call.request.customerId,
      lines: [],
      total: { currencyCode: "EUR", minorUnits: 2500 },
      status: OrderStatus.ORDER_STATUS_CONFIRMED,
      statusReason: "",
      paymentId: "pay_1",
      createdAt: now,
      updatedAt: now,
    };
    orders.set(order.id, order);
    callback(null, { order });
  },
  getOrder: (call, callback) => {
    const order = orders.get(call.request.orderId);
    if (!order) return callback(failWith(status.NOT_FOUND, `order ${call.request.orderId} not found`));
    callback(null, { order });
  },
  listOrders: (_call, callback) => callback(failWith(status.UNIMPLEMENTED, "not in this fake")),
  cancelOrder: (call, callback) => {
    const order = orders.get(call.request.orderId);
    if (!order) return callback(failWith(status.NOT_FOUND, `order ${call.request.orderId} not found`));
    cancelled.push(order.id);
    order.status = OrderStatus.ORDER_STATUS_CANCELLED;
    callback(null, { order });
  },
};

let ordersServer: FakeServer;
let notificationsServer: FakeServer;
let gateway: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  ordersServer = await startFakeServer(OrderServiceService, fakeOrders);
  notificationsServer = await startFakeServer(NotificationServiceService, {
    listNotifications: (call: ServerUnaryCall<ListNotificationsRequest, unknown>, callback: sendUnaryData<unknown>) => {
      listed.push(call.request);
      callback(null, { notifications: [], nextPageToken: "" });
    },
  });
  gateway = await startTestGateway({ ORDERS_ADDR: ordersServer.address, NOTIFICATIONS_ADDR: notificationsServer.address });
});
afterAll(async () => {
  await gateway?.stop();
  ordersServer?.stop();
  notificationsServer?.stop();
});

const url = (path: string) => `${gateway.url}${path}`;
const anOrder = { items: [{ product_id: "v60-dripper", quantity: 1 }], payment_token: "tok_visa" };
const placeAs = async (customer: string, body: unknown = anOrder) =>
  postJson(url("/api/orders"), body, { "idempotency-key": `key-${randomUUID()}`, ...(await bearer(customer)) });

async function errorOf(response: Response): Promise<ErrorJson["error"]> {
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  return ((await response.json()) as ErrorJson).error;
}

/** An unsigned token ("alg": "none"), which must never be accepted. */
function unsignedToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

/** A token signed with the test key but claims (and a "typ") of our choosing. */
function customToken(claims: Record<string, unknown>, typ = "JWT"): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ }).sign(new TextEncoder().encode(testAuth.AUTH_JWT_SECRET));
}

const CUSTOMER_ROUTES = [
  { method: "POST", path: "/api/orders", body: JSON.stringify(anOrder) },
  { method: "GET", path: "/api/orders/ord_0123456789abcdef0123456789abcdef" },
  { method: "POST", path: "/api/orders/ord_0123456789abcdef0123456789abcdef/cancel" },
  { method: "GET", path: "/api/customers/alice/notifications" },
] as const;

describe("a customer route without a valid bearer token", () => {
  it.each(CUSTOMER_ROUTES)("$method $path without Authorization is 401, WWW-Authenticate: Bearer, and reaches no service", async (route) => {
    const before = { placed: placed.length, listed: listed.length, cancelled: cancelled.length };
    const response = await fetch(url(route.path), {
      method: route.method,
      headers: { "content-type": "application/json", "idempotency-key": "key-no-token" },
      ...("body" in route ? { body: route.body } : {}),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
    expect(await errorOf(response)).toEqual({ code: "UNAUTHENTICATED", message: expect.stringContaining("Authorization: Bearer <token>") });
    expect({ placed: placed.length, listed: listed.length, cancelled: cancelled.length }).toEqual(before);
  });

  const twoHoursAgo = Date.now() - 2 * 60 * 60 * 1000;
  const refused: Array<[string, () => Promise<string>, RegExp]> = [
    ["garbage", async () => "not-a-jwt", /not a well-formed JWT/],
    ["three parts of garbage", async () => "aaaa.bbbb.cccc", /not a well-formed JWT/],
    ["a wrong signature", () => signCustomerToken({ ...testAuth, AUTH_JWT_SECRET: "some-other-key-some-other-key-123" }, "alice"), /signature is not valid/],
    ["an expired token", () => signCustomerToken(testAuth, "alice", { issuedAtMs: twoHoursAgo, ttlSeconds: 3600 }), /expired/],
    ["a wrong audience", () => signCustomerToken({ ...testAuth, AUTH_JWT_AUDIENCE: "another-service" }, "alice"), /"aud" claim/],
    ["a wrong issuer", () => signCustomerToken({ ...testAuth, AUTH_JWT_ISSUER: "someone-else" }, "alice"), /"iss" claim/],
    ["no expiry", () => customToken({ sub: "alice", iss: testAuth.AUTH_JWT_ISSUER, aud: testAuth.AUTH_JWT_AUDIENCE, iat: Math.floor(Date.now() / 1000) }), /"exp" claim is missing/],
    ["a subject that is no customer id", () => customToken({ sub: "alice smith!", iss: "bazaar", aud: "bazaar-gateway", iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 }), /"sub" claim is not a customer id/],
    ["a token older than a day, whatever its expiry", () => signCustomerToken(testAuth, "alice", { issuedAtMs: Date.now() - 25 * 60 * 60 * 1000, ttlSeconds: 30 * 24 * 60 * 60 }), /expired/],
    ["another kind of token signed with the same key", () => customToken({ sub: "alice", iss: "bazaar", aud: "bazaar-gateway", iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 }, "at+jwt"), /"typ"/],
    ["an unsigned token (alg none)", async () => unsignedToken({ sub: "alice", iss: "bazaar", aud: "bazaar-gateway", exp: Math.floor(Date.now() / 1000) + 60 }), /HS256|well-formed/],
  ];

  it.each(refused)("%s is 401 invalid_token, says why, and does not echo the token", async (_name, tokenOf, reason) => {
    const token = await tokenOf();
    const before = listed.length;
    const response = await fetch(url("/api/customers/alice/notifications"), { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "UNAUTHENTICATED", message: expect.stringMatching(reason) } });
    expect(text).not.toContain(token);
    expect(listed.length).toBe(before);
  });

  it("refuses other schemes and a Bearer without a token as missing, a malformed one as invalid", async () => {
    const status = async (authorization: string) => {
      const response = await fetch(url("/api/customers/alice/notifications"), { headers: { authorization } });
      return [response.status, response.headers.get("www-authenticate")];
    };
    expect(await status("Basic YWxpY2U6c2VjcmV0")).toEqual([401, "Bearer"]);
    expect(await status("Bearer")).toEqual([401, "Bearer"]);
    expect(await status("Bearer two tokens")).toEqual([401, 'Bearer error="invalid_token"']);
    // The scheme's name is case-insensitive (RFC 9110).
    const { authorization } = await bearer("alice");
    expect(await status(authorization.replace("Bearer", "bearer"))).toEqual([200, null]);
  });

  it("leaves the catalog and the probes public", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await fetch(url(path))).status, path).toBe(200);
    // No catalog behind this gateway: 503, but not 401.
    expect((await fetch(url("/api/products"))).status).toBe(503);
    expect((await fetch(url("/api/products/v60-dripper"))).status).toBe(503);
  });
});

describe("tokens already verified", () => {
  it("are accepted from memory only until they expire, clock tolerance included, then refused as expired", async () => {
    const issuedAtMs = Date.now();
    const token = await signCustomerToken(testAuth, "alice", { issuedAtMs, ttlSeconds: 60 });
    let now = issuedAtMs;
    const authenticate = bearerAuthentication(testAuth, () => now);
    expect(await authenticate(`Bearer ${token}`)).toBe("alice");
    now = issuedAtMs + 88_000; // past "exp", within the 30 s tolerance
    expect(await authenticate(`Bearer ${token}`)).toBe("alice");
    now = issuedAtMs + 91_000;
    await expect(authenticate(`Bearer ${token}`)).rejects.toMatchObject({ httpStatus: 401, message: "the token has expired" });
  });
});

describe("a new token sent by parallel requests", () => {
  it("is verified once for all of them; one that fails is refused to all and checked again next time", async () => {
    const token = await signCustomerToken(testAuth, "alice");
    let checks = 0;
    const counting: typeof verifyCustomerToken = (...args) => ((checks += 1), verifyCustomerToken(...args));
    const authenticate = bearerAuthentication(testAuth, Date.now, counting);
    expect(await Promise.all(Array.from({ length: 20 }, () => authenticate(`Bearer ${token}`)))).toEqual(Array(20).fill("alice"));
    expect(checks).toBe(1);

    const forged = `${token.slice(0, -4)}AAAA`;
    const answers = await Promise.allSettled(Array.from({ length: 5 }, () => authenticate(`Bearer ${forged}`)));
    expect(answers.map((answer) => answer.status === "rejected" && (answer.reason as { httpStatus: number }).httpStatus)).toEqual(Array(5).fill(401));
    expect(checks).toBe(2);
    await expect(authenticate(`Bearer ${forged}`)).rejects.toMatchObject({ httpStatus: 401 });
    expect(checks).toBe(3);
  });
});

describe("orders belong to the token's customer", () => {
  it("POST /api/orders takes the customer from the token when the body names none", async () => {
    const response = await placeAs("alice");
    expect(response.status).toBe(201);
    expect(placed.at(-1)?.customerId).toBe("alice");
    expect(await response.json()).toMatchObject({ order: { customerId: "alice" } });
    expect((await placeAs("alice", { ...anOrder, customer_id: "alice" })).status).toBe(201);
  });

  it.each([{ customer_id: "bob" }, { customerId: "bob" }])("POST /api/orders for someone else (%j) is 403 and places nothing", async (other) => {
    const before = placed.length;
    const response = await placeAs("alice", { ...anOrder, ...other });
    expect(response.status).toBe(403);
    expect(await errorOf(response)).toEqual({ code: "PERMISSION_DENIED", message: expect.stringContaining("customer_id") });
    expect(placed.length).toBe(before);
  });

  it("the customer reads and cancels their own order", async () => {
    const { order } = (await (await placeAs("alice")).json()) as { order: { id: string } };
    const read = await fetch(url(`/api/orders/${order.id}`), { headers: await bearer("alice") });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ order: { id: order.id, customerId: "alice" } });

    const cancel = await postJson(url(`/api/orders/${order.id}/cancel`), { reason: "changed my mind" }, await bearer("alice"));
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toMatchObject({ order: { id: order.id, status: "ORDER_STATUS_CANCELLED" } });
    expect(cancelled).toContain(order.id);
  });

  it("another customer gets 404 for it, word for word as for an order that does not exist, and cancels nothing", async () => {
    const { order } = (await (await placeAs("alice")).json()) as { order: { id: string } };
    const missing = `ord_${randomUUID().replaceAll("-", "")}`;
    /** Status, headers that matter and body, with the order id made neutral so two answers can be compared. */
    const answer = async (response: Response, id: string) => ({
      status: response.status,
      contentType: response.headers.get("content-type"),
      body: (await response.text()).replaceAll(id, "<id>"),
    });
    const asBob = await bearer("bob");

    const others = await answer(await fetch(url(`/api/orders/${order.id}`), { headers: asBob }), order.id);
    const nobodys = await answer(await fetch(url(`/api/orders/${missing}`), { headers: asBob }), missing);
    expect(others.status).toBe(404);
    expect(others).toEqual(nobodys);

    const othersCancel = await answer(await postJson(url(`/api/orders/${order.id}/cancel`), { reason: "mine now" }, asBob), order.id);
    const nobodysCancel = await answer(await postJson(url(`/api/orders/${missing}/cancel`), { reason: "mine now" }, asBob), missing);
    expect(othersCancel.status).toBe(404);
    expect(othersCancel).toEqual(nobodysCancel);
    expect(cancelled).not.toContain(order.id);
    expect(orders.get(order.id)?.status).toBe(OrderStatus.ORDER_STATUS_CONFIRMED);
  });

  it("notifications are the customer's own; another customer's are 404 and never asked for", async () => {
    const own = await fetch(url("/api/customers/alice/notifications?page_size=5"), { headers: await bearer("alice") });
    expect(own.status).toBe(200);
    expect(listed.at(-1)).toEqual({ customerId: "alice", pageSize: 5, pageToken: "" });

    const before = listed.length;
    const others = await fetch(url("/api/customers/alice/notifications"), { headers: await bearer("bob") });
    expect(others.status).toBe(404);
    expect((await errorOf(others)).code).toBe("NOT_FOUND");
    expect(listed.length).toBe(before);
  });
});

/** `npm run -s token -- ...args`, for real; `secret` undefined: none in the environment. */
function tokenScript(args: string[], secret: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, AUTH_JWT_SECRET: secret };
  if (secret === undefined) delete env.AUTH_JWT_SECRET;
  return new Promise((resolve) => {
    execFile("npm", ["run", "-s", "token", "--", ...args], { cwd: repoRoot, env }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

describe("npm run -s token (scripts/token.ts)", () => {
  it("prints one line, a token the gateway accepts for that customer", async () => {
    const { code, stdout } = await tokenScript(["alice"], testAuth.AUTH_JWT_SECRET);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const response = await fetch(url("/api/customers/alice/notifications"), { headers: { authorization: `Bearer ${stdout.trim()}` } });
    expect(response.status).toBe(200);
    expect(decodeJwt(stdout.trim())).toMatchObject({ sub: "alice", iss: "bazaar", aud: "bazaar-gateway" });
  });

  it("makes the token live --ttl seconds", async () => {
    const { stdout } = await tokenScript(["alice", "--ttl", "120"], testAuth.AUTH_JWT_SECRET);
    const { iat, exp } = decodeJwt(stdout.trim());
    expect(exp! - iat!).toBe(120);
  });

  it("signs with deploy/dev.env's key when AUTH_JWT_SECRET is not set", async () => {
    const { code, stdout } = await tokenScript(["alice"], undefined);
    expect(code).toBe(0);
    const devAuth = parseConfig(authConfig, devEnvFile());
    expect((await verifyCustomerToken(devAuth, stdout.trim())).customerId).toBe("alice");
    // Not the key of this test's gateway, which refuses it.
    expect((await fetch(url("/api/customers/alice/notifications"), { headers: { authorization: `Bearer ${stdout.trim()}` } })).status).toBe(401);
  });

  it.each([
    { why: "a customer id with a space", args: ["alice smith"] },
    { why: "a customer id over 64 characters", args: ["x".repeat(65)] },
    { why: "a --ttl that is no number", args: ["alice", "--ttl", "soon"] },
    { why: "no customer id", args: [] },
  ])("refuses $why with exit 2 and prints no token", async ({ args }) => {
    const { code, stdout, stderr } = await tokenScript(args, testAuth.AUTH_JWT_SECRET);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain("usage: npm run -s token");
  });
});

describe("how long a verified token is remembered", () => {
  it("until it expires or turns a day old, whichever comes first", async () => {
    const issuedAtMs = Date.now() - 23 * 60 * 60 * 1000;
    const longLived = await signCustomerToken(testAuth, "alice", { issuedAtMs, ttlSeconds: 30 * 24 * 60 * 60 });
    const { validUntilMs } = await verifyCustomerToken(testAuth, longLived);
    expect(validUntilMs).toBe((Math.floor(issuedAtMs / 1000) + MAX_TOKEN_AGE_SECONDS + 30) * 1000);
    const shortLived = await signCustomerToken(testAuth, "alice", { ttlSeconds: 60 });
    expect((await verifyCustomerToken(testAuth, shortLived)).validUntilMs).toBe((decodeJwt(shortLived).exp! + 30) * 1000);
  });
});
