import { Writable } from "node:stream";
import { status, type ServiceError } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogService } from "../../services/catalog/src/service.js";
import { migrationsDir } from "../../services/catalog/src/store.js";
import { createClient } from "@bazaar/runtime/grpc/client";
import { createLogger } from "@bazaar/runtime/logger";
import { startTracing, tracer } from "@bazaar/runtime/observability/tracing";
import { startTestService } from "@bazaar/runtime/testing";

// Metrics, traces and log correlation of a real service over real gRPC.

const spans = new InMemorySpanExporter();
startTracing("observability-test", [new SimpleSpanProcessor({ exporter: spans })]);
const logLines: Array<Record<string, unknown>> = [];
const logger = createLogger(
  "catalog",
  "info",
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }),
);

let service: Awaited<ReturnType<typeof startTestService>>;
let catalog: ReturnType<typeof createClient<typeof CatalogServiceService>>;
beforeAll(async () => {
  service = await startTestService("catalog", { migrationsDir, services: [catalogService], logger });
  catalog = createClient(CatalogServiceService, service.address, { deadlineMs: 5000 });
  await catalog.getProduct({ id: "v60-dripper" });
  await catalog.getProduct({ id: "v60-dripper" });
  await catalog.getProduct({ id: "no-such-product" }).catch((e: ServiceError) => expect(e.code).toBe(status.NOT_FOUND));
  await catalog.listProducts({ pageSize: 500, pageToken: "" }).catch((e: ServiceError) => expect(e.code).toBe(status.INVALID_ARGUMENT));
});
afterAll(async () => {
  catalog?.close();
  await service?.stop();
});

/** `name{labels} value` lines of the Prometheus text format, as [labels, value] of one metric. */
async function scrape(name: string): Promise<Array<[Record<string, string>, number]>> {
  const text = await (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => {
      const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      return [labels, Number(line.slice(line.lastIndexOf(" ") + 1))];
    });
}

const CATALOG = { grpc_type: "unary", grpc_service: "bazaar.catalog.v1.CatalogService" };

describe("metrics on the admin port", () => {
  it("count handled RPCs by method and code, with go-grpc-prometheus labels", async () => {
    const handled = await scrape("grpc_server_handled_total");
    const count = (method: string, code: string) =>
      handled.find(([l]) => l.grpc_service === CATALOG.grpc_service && l.grpc_method === method && l.grpc_code === code)?.[1];
    expect(count("GetProduct", "OK")).toBe(2);
    expect(count("GetProduct", "NOT_FOUND")).toBe(1);
    expect(count("ListProducts", "INVALID_ARGUMENT")).toBe(1);
    expect(handled.every(([l]) => Object.keys(l).sort().join() === "grpc_code,grpc_method,grpc_service,grpc_type")).toBe(true);
  });

  it("count started RPCs and time them in a histogram", async () => {
    const started = await scrape("grpc_server_started_total");
    expect(started.find(([l]) => l.grpc_method === "GetProduct" && l.grpc_type === "unary")?.[1]).toBe(3);
    const count = await scrape("grpc_server_handling_seconds_count");
    expect(count.find(([l]) => l.grpc_method === "GetProduct")?.[1]).toBe(3);
    const buckets = await scrape("grpc_server_handling_seconds_bucket");
    expect(buckets.find(([l]) => l.grpc_method === "GetProduct" && l.le === "+Inf")?.[1]).toBe(3);
  });

  it("count the client side too, and export process metrics", async () => {
    const handled = await scrape("grpc_client_handled_total");
    expect(handled.find(([l]) => l.grpc_method === "GetProduct" && l.grpc_code === "OK")?.[1]).toBe(2);
    expect((await scrape("process_resident_memory_bytes"))[0]?.[1]).toBeGreaterThan(0);
    expect((await scrape("nodejs_eventloop_lag_seconds")).length).toBe(1);
  });
});

describe("traces and logs", () => {
  it("make the client and server spans of a call one trace, and put its ids on the log line", async () => {
    spans.reset();
    const traceId = await tracer().startActiveSpan("test request", async (root) => {
      await catalog.getProduct({ id: "chemex-6-cup" });
      root.end();
      return root.spanContext().traceId;
    });
    const finished = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const client = finished.find((s) => s.kind === SpanKind.CLIENT);
    const server = finished.find((s) => s.kind === SpanKind.SERVER);
    expect(client?.name).toBe("bazaar.catalog.v1.CatalogService/GetProduct");
    expect(server?.name).toBe("bazaar.catalog.v1.CatalogService/GetProduct");
    expect(server?.parentSpanContext?.spanId).toBe(client?.spanContext().spanId);
    expect(server?.attributes["rpc.grpc.status_code"]).toBe(status.OK);

    const line = logLines.findLast((l) => l.msg === "rpc" && l.rpc === "/bazaar.catalog.v1.CatalogService/GetProduct");
    expect(line).toMatchObject({ service: "catalog", code: "OK", trace_id: traceId, span_id: server?.spanContext().spanId });
  });
});
