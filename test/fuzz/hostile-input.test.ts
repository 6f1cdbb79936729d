import * as grpc from "@grpc/grpc-js";
import { type DescService, type JsonValue } from "@bufbuild/protobuf";
import { contractRegistry } from "@bazaar/runtime/contracts";
import { type ServiceName } from "../../scripts/shop.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExamples } from "../contract/support/examples.js";
import { hostileHttpRequest, VALID_CUSTOMER } from "./support/http.js";
import { hostileRequest, type Mode, seedsOf } from "./support/messages.js";
import { Random } from "./support/random.js";
import { type InProcessShop, startInProcessShop } from "./support/shop.js";

// Hostile input against every RPC of every service and every route of the
// gateway: random bytes, example requests with hostile fields, hostile
// messages of the right shape, damaged encodings, hostile HTTP. The answer is
// always a precise status, never INTERNAL or UNKNOWN, nothing crashes, and the
// shop still works afterwards. The seed makes every run the same run.

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_605);
/** Requests per RPC of our contracts (15 methods), and per service to grpc.health.v1.Health/Check. */
const PER_METHOD = 600;
const PER_HEALTH = 60;
const HTTP_REQUESTS = 1500;
/** Requests in flight at once: enough to interleave, few enough for two shared cores. */
const CONCURRENCY = 16;
const CALL_DEADLINE_MS = 20_000;

/** What a hostile request may get back: a success, or the client's own fault named precisely. */
const ACCEPTED = new Set([grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.FAILED_PRECONDITION, grpc.status.ABORTED]);

const SERVICES: Record<ServiceName, string> = {
  catalog: "bazaar.catalog.v1.CatalogService",
  inventory: "bazaar.inventory.v1.InventoryService",
  orders: "bazaar.orders.v1.OrderService",
  payments: "bazaar.payments.v1.PaymentService",
  notifications: "bazaar.notifications.v1.NotificationService",
};

let shop: InProcessShop;
beforeAll(async () => {
  shop = await startInProcessShop();
}, 120_000);
afterAll(async () => {
  await shop?.stop();
});

/** A channel that sends bytes as they are: no stub encodes (or repairs) them. */
function rawCall(channel: grpc.Client, path: string, bytes: Buffer): Promise<{ code: grpc.status; details: string }> {
  return new Promise((resolve) => {
    channel.makeUnaryRequest(
      path,
      (value: Buffer) => value,
      (value: Buffer) => value,
      bytes,
      new grpc.Metadata(),
      { deadline: Date.now() + CALL_DEADLINE_MS },
      (error) => resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, details: "" }),
    );
  });
}

/** Run `tasks` with at most `limit` in flight. */
async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/**
 * Well-formed requests naming ids that do not exist, for methods whose examples
 * refer to earlier answers ("${place.order.id}"), which mean nothing here.
 */
const UNKNOWN_IDS: Record<string, JsonValue[]> = {
  GetOrder: [{ order_id: "ord_0123456789abcdef0123456789abcdef" }],
  CancelOrder: [{ order_id: "ord_0123456789abcdef0123456789abcdef", reason: "changed my mind" }],
  GetPayment: [{ payment_id: "pay_0123456789abcdef0123456789abcdef" }],
  Refund: [{ payment_id: "pay_0123456789abcdef0123456789abcdef", reason: "returned" }],
  ReleaseReservation: [{ order_id: "ord_0123456789abcdef0123456789abcdef" }],
  CommitReservation: [{ order_id: "ord_0123456789abcdef0123456789abcdef" }],
};

/** The example requests of a method, minus those that wait for a deadline on purpose. */
function exampleRequests(service: ServiceName, method: string): JsonValue[] {
  return loadExamples(service)
    .interactions.filter((interaction) => interaction.method === method)
    .map((interaction) => interaction.request as JsonValue)
    .filter((request) => !JSON.stringify(request).includes("tok_timeout") && !JSON.stringify(request).includes("${"))
    .concat(UNKNOWN_IDS[method] ?? []);
}

interface Finding {
  rpc: string;
  mode: Mode;
  code: string;
  details: string;
  /** The request, hex, to replay it. */
  bytes: string;
}

describe("hostile gRPC requests", () => {
  it(`every RPC of every service answers ${PER_METHOD} of them with a precise status`, { timeout: 180_000 }, async () => {
    const random = new Random(SEED);
    const registry = contractRegistry();
    const counts: Record<string, Record<string, number>> = {};
    const findings: Finding[] = [];
    const tasks: Array<() => Promise<void>> = [];
    const channels: grpc.Client[] = [];

    for (const [name, serviceName] of Object.entries(SERVICES) as Array<[ServiceName, string]>) {
      const channel = new grpc.Client(shop.grpc[name], grpc.credentials.createInsecure());
      channels.push(channel);
      const service = registry.getService(serviceName) as DescService;
      const health = registry.getService("grpc.health.v1.Health") as DescService;
      const targets = [
        ...service.methods.map((method) => ({ method, count: PER_METHOD, seeds: seedsOf(method.input, exampleRequests(name, method.name)) })),
        ...health.methods.filter((method) => method.name === "Check").map((method) => ({ method, count: PER_HEALTH, seeds: seedsOf(method.input, [{ service: "" }]) })),
      ];
      for (const { method, count, seeds } of targets) {
        const path = `/${method.parent.typeName}/${method.name}`;
        const rpcCounts: Record<string, number> = (counts[path] = {});
        for (let i = 0; i < count; i++) {
          // Generated up front, in order: the same seed gives the same requests whatever the timing.
          const request = hostileRequest(random, method.input, seeds);
          tasks.push(async () => {
            const { code, details } = await rawCall(channel, path, request.bytes);
            rpcCounts[grpc.status[code]!] = (rpcCounts[grpc.status[code]!] ?? 0) + 1;
            if (!ACCEPTED.has(code)) findings.push({ rpc: path, mode: request.mode, code: grpc.status[code]!, details, bytes: request.bytes.toString("hex").slice(0, 400) });
          });
        }
      }
    }

    await pool(tasks, CONCURRENCY);
    channels.forEach((channel) => channel.close());
    console.log(`hostile gRPC requests: ${tasks.length} sent (seed ${SEED}); answers by RPC:\n${Object.entries(counts).map(([rpc, byCode]) => `  ${rpc} ${JSON.stringify(byCode)}`).join("\n")}`);

    expect(tasks.length).toBeGreaterThanOrEqual(9000);
    expect(summarize(findings), `${findings.length} requests got an imprecise status`).toEqual({});
  });
});

/** Findings grouped by RPC, status and message, each with one request that caused it (hex), to replay. */
function summarize(findings: readonly Finding[]): Record<string, { count: number; mode: Mode; example: string }> {
  const groups: Record<string, { count: number; mode: Mode; example: string }> = {};
  for (const finding of findings) {
    const key = `${finding.rpc} ${finding.code}: ${finding.details.slice(0, 80)}`;
    const group = (groups[key] ??= { count: 0, mode: finding.mode, example: finding.bytes });
    group.count++;
  }
  return groups;
}

describe("hostile HTTP requests", () => {
  it(`the gateway answers ${HTTP_REQUESTS} of them with 2xx or 4xx, never 5xx`, { timeout: 120_000 }, async () => {
    const random = new Random(SEED + 1);
    const byStatus: Record<string, number> = {};
    const findings: Array<{ method: string; path: string; status: number; body: string }> = [];
    const token = await shop.tokenFor(VALID_CUSTOMER);
    const requests = Array.from({ length: HTTP_REQUESTS }, () => hostileHttpRequest(random, token));

    await pool(
      requests.map((request) => async () => {
        const url = `${shop.gatewayUrl}${request.path}`;
        let status: number;
        let text = "";
        try {
          const response = await fetch(url, { method: request.method, headers: request.headers, ...(request.body !== undefined ? { body: request.body } : {}) });
          status = response.status;
          text = await response.text();
        } catch (error) {
          // No answer at all: the connection was dropped or the request never left.
          status = -1;
          text = String((error as Error).cause ?? error);
        }
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        if (status < 0 || status >= 500) findings.push({ method: request.method, path: request.path.slice(0, 200), status, body: text.slice(0, 300) });
      }),
      CONCURRENCY,
    );
    console.log(`hostile HTTP requests: ${requests.length} sent (seed ${SEED + 1}); answers by status: ${JSON.stringify(byStatus)}`);

    expect(findings.slice(0, 20), `${findings.length} requests got a 5xx or no answer`).toEqual([]);
  });
});

describe("afterwards", () => {
  it("every service and the gateway still answer, and an order still goes through", async () => {
    for (const [name, address] of Object.entries(shop.grpc)) {
      const channel = new grpc.Client(address, grpc.credentials.createInsecure());
      const { code } = await rawCall(channel, "/grpc.health.v1.Health/Check", Buffer.alloc(0));
      channel.close();
      expect(grpc.status[code], name).toBe("OK");
    }
    const product = await fetch(`${shop.gatewayUrl}/api/products/v60-dripper`);
    expect(product.status).toBe(200);
    const order = await fetch(`${shop.gatewayUrl}/api/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": `fuzz-afterwards-${SEED}`, authorization: `Bearer ${await shop.tokenFor("after-fuzz")}` },
      body: JSON.stringify({ customer_id: "after-fuzz", items: [{ product_id: "cupping-spoon", quantity: 1 }], payment_token: "tok_visa" }),
    });
    expect(order.status, await order.clone().text()).toBe(201);
  });
});
