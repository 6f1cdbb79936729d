import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devBearer } from "../support/auth.js";
import { type ComponentName, type Mesh, startMesh } from "../support/mesh.js";

// One PlaceOrder, one trace: every process exports its spans over OTLP/HTTP to
// a collector in this test, and writes the trace id on its log lines.

interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
}

/** A minimal OTLP/HTTP (JSON) trace receiver. */
function startCollector(): Promise<{ server: Server; url: string; spans: CollectedSpan[] }> {
  const spans: CollectedSpan[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const payload = JSON.parse(body) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
          scopeSpans: Array<{ spans: Array<Omit<CollectedSpan, "service">> }>;
        }>;
      };
      for (const resourceSpans of payload.resourceSpans) {
        const service = resourceSpans.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "?";
        for (const scope of resourceSpans.scopeSpans) for (const span of scope.spans) spans.push({ ...span, service });
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end("{}");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, spans })),
  );
}

let collector: Awaited<ReturnType<typeof startCollector>>;
let mesh: Mesh;

beforeAll(async () => {
  collector = await startCollector();
  mesh = await startMesh({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "100" });
}, 180_000);
afterAll(async () => {
  await mesh?.stop();
  collector?.server.close();
}, 60_000);

describe("one order, one trace", () => {
  const traceId = randomBytes(16).toString("hex");

  it("spans every service, from the gateway through JetStream to the consumers", async () => {
    const response = await fetch(`${mesh.gatewayUrl}/api/orders`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "idempotency-key": `trace-${traceId}`,
        traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
        ...(await devBearer("tracey")),
      },
      body: JSON.stringify({ customer_id: "tracey", items: [{ product_id: "chemex-6-cup", quantity: 1 }], payment_token: "tok_visa" }),
    });
    expect(response.status, mesh.logTails()).toBe(201);

    const spansOf = (service: string) => collector.spans.filter((s) => s.traceId === traceId && s.service === service).map((s) => s.name);
    await expect
      .poll(() => spansOf("notifications"), { timeout: 20_000 })
      .toEqual(expect.arrayContaining(["orders.order.placed process"]));
    await expect.poll(() => spansOf("inventory"), { timeout: 20_000 }).toEqual(
      expect.arrayContaining(["bazaar.inventory.v1.InventoryService/ReserveStock", "orders.order.placed process"]),
    );
    // Each process exports on its own schedule (OTEL_BSP_SCHEDULE_DELAY after its first span): one
    // process's spans having arrived says nothing of another's, so each is waited for.
    await expect
      .poll(() => spansOf("gateway"), { timeout: 20_000 })
      .toEqual(expect.arrayContaining(["POST /api/orders", "bazaar.orders.v1.OrderService/PlaceOrder"]));
    await expect.poll(() => spansOf("orders"), { timeout: 20_000 }).toEqual(
      expect.arrayContaining([
        "bazaar.orders.v1.OrderService/PlaceOrder",
        "bazaar.catalog.v1.CatalogService/BatchGetProducts",
        "bazaar.inventory.v1.InventoryService/ReserveStock",
        "bazaar.payments.v1.PaymentService/Charge",
      ]),
    );
    await expect.poll(() => spansOf("catalog"), { timeout: 20_000 }).toContain("bazaar.catalog.v1.CatalogService/BatchGetProducts");
    await expect.poll(() => spansOf("payments"), { timeout: 20_000 }).toContain("bazaar.payments.v1.PaymentService/Charge");

    // Parent links hold across processes: orders' server span is a child of the gateway's client span.
    const ours = collector.spans.filter((s) => s.traceId === traceId);
    const gatewayCall = ours.find((s) => s.service === "gateway" && s.name === "bazaar.orders.v1.OrderService/PlaceOrder")!;
    const ordersServer = ours.find((s) => s.service === "orders" && s.name === "bazaar.orders.v1.OrderService/PlaceOrder")!;
    expect(ordersServer.parentSpanId).toBe(gatewayCall.spanId);
  });

  it("puts the trace id on a log line of every process it crossed", async () => {
    const components: ComponentName[] = ["gateway", "orders", "catalog", "inventory", "payments", "notifications"];
    for (const name of components) {
      await expect.poll(() => mesh.logLines(name).some((line) => line.trace_id === traceId), { timeout: 10_000, message: name }).toBe(true);
    }
  });
});
