import { describe, expect, it } from "vitest";
import { type MapEdge, type MapNode, meshSnapshot, quantileMs, type ScrapeRound, serviceOfGrpc } from "../src/mesh-snapshot.js";
import { type Sample } from "../src/prometheus-text.js";

// The mesh map from two rounds of scrapes, 5 s apart, written by hand as
// prom-client serves them (lib/src/observability/metrics.ts). Every expected
// number below is worked out in a comment beside it.

const sample = (name: string, labels: Record<string, string>, value: number): Sample => ({ name, labels, value });

/** Cumulative histogram buckets (le labels) of one series, over the bounds BOUNDS. */
const BOUNDS = ["0.01", "0.05", "1", "5", "+Inf"];
const buckets = (name: string, labels: Record<string, string>, counts: number[]): Sample[] => BOUNDS.map((le, i) => sample(name, { ...labels, le }, counts[i]!));

const unary = (service: string, method: string) => ({ grpc_type: "unary", grpc_service: service, grpc_method: method });
const PLACE_ORDER = unary("bazaar.orders.v1.OrderService", "PlaceOrder");
const HEALTH_CHECK = unary("grpc.health.v1.Health", "Check");
const CHARGE = unary("bazaar.payments.v1.PaymentService", "Charge");
const RESERVE = unary("bazaar.inventory.v1.InventoryService", "Reserve");
const LIST_PRODUCTS = unary("bazaar.catalog.v1.CatalogService", "ListProducts");

/** The gateway: HTTP requests by route (probes among them) and its calls to the catalog. */
function gateway(round: "older" | "newer"): Sample[] {
  const older = round === "older";
  const requests = (method: string, route: string, code: string, value: number) => sample("http_server_requests_total", { method, route, code }, value);
  return [
    requests("GET", "/api/products", "200", older ? 100 : 140), // +40
    requests("POST", "/api/orders", "201", older ? 10 : 15), // +5
    ...(older ? [] : [requests("POST", "/api/orders", "503", 5)]), // new series: +5
    requests("GET", "/healthz", "200", older ? 50 : 1050), // probes: never traffic
    requests("GET", "/metrics", "200", older ? 20 : 25),
    ...buckets("http_server_request_duration_seconds_bucket", { method: "GET", route: "/api/products" }, older ? [0, 0, 0, 0, 0] : [45, 50, 50, 50, 50]),
    // Slow probes: were they counted, the p99 would land in the 1..5 s bucket.
    ...buckets("http_server_request_duration_seconds_bucket", { method: "GET", route: "/healthz" }, older ? [0, 0, 0, 0, 0] : [0, 0, 0, 1000, 1000]),
    sample("grpc_client_handled_total", { ...LIST_PRODUCTS, grpc_code: "OK" }, older ? 100 : 140), // +40
    ...buckets("grpc_client_handling_seconds_bucket", LIST_PRODUCTS, older ? [100, 100, 100, 100, 100] : [140, 140, 140, 140, 140]),
  ];
}

/** Orders: serves PlaceOrder, calls payments (some UNAVAILABLE) and inventory, publishes and consumes events. */
function orders(round: "older" | "newer"): Sample[] {
  const older = round === "older";
  return [
    sample("grpc_server_handled_total", { ...PLACE_ORDER, grpc_code: "OK" }, older ? 100 : 130), // +30
    sample("grpc_server_handled_total", { ...PLACE_ORDER, grpc_code: "FAILED_PRECONDITION" }, older ? 10 : 20), // +10, the client's mistake
    sample("grpc_server_handled_total", { ...PLACE_ORDER, grpc_code: "UNAVAILABLE" }, older ? 2 : 12), // +10, a failure
    sample("grpc_server_handled_total", { ...HEALTH_CHECK, grpc_code: "OK" }, older ? 500 : 1500), // probes: never traffic
    ...buckets("grpc_server_handling_seconds_bucket", PLACE_ORDER, older ? [50, 60, 70, 80, 80] : [60, 100, 119, 130, 130]), // +[10, 40, 49, 50, 50]
    ...buckets("grpc_server_handling_seconds_bucket", HEALTH_CHECK, older ? [500, 500, 500, 500, 500] : [500, 500, 500, 500, 1500]),

    sample("grpc_client_handled_total", { ...CHARGE, grpc_code: "OK" }, older ? 80 : 120), // +40
    sample("grpc_client_handled_total", { ...CHARGE, grpc_code: "UNAVAILABLE" }, older ? 0 : 10), // +10
    ...buckets("grpc_client_handling_seconds_bucket", CHARGE, older ? [0, 10, 20, 30, 30] : [0, 35, 70, 80, 80]), // +[0, 25, 50, 50, 50]
    sample("grpc_client_handled_total", { ...RESERVE, grpc_code: "OK" }, older ? 0 : 20), // +20
    ...buckets("grpc_client_handling_seconds_bucket", RESERVE, older ? [0, 0, 0, 0, 0] : [20, 20, 20, 20, 20]),

    sample("bazaar_circuit_breaker_state", { target: "payments" }, 2),
    sample("bazaar_circuit_breaker_state", { target: "inventory" }, 0),
    sample("bazaar_consumer_pending_events", { consumer: "orders-payments" }, older ? 0 : 3),
    sample("bazaar_consumer_pending_events", { consumer: "orders-inventory" }, older ? 0 : 4),

    sample("bazaar_events_published_total", { subject: "orders.order.placed" }, older ? 10 : 35), // +25
    sample("bazaar_events_consumed_total", { subject: "payments.payment.charged", consumer: "orders-payments", outcome: "applied" }, older ? 5 : 13), // +8
    sample("bazaar_events_consumed_total", { subject: "payments.payment.charged", consumer: "orders-payments", outcome: "duplicate" }, older ? 0 : 2), // +2
    sample("bazaar_events_failed_total", { subject: "payments.payment.charged", consumer: "orders-payments" }, older ? 1 : 6), // +5
  ];
}

/** Payments, restarted between the rounds: its counters start again from zero. */
function payments(round: "older" | "newer"): Sample[] {
  const older = round === "older";
  return [
    sample("grpc_server_handled_total", { ...CHARGE, grpc_code: "OK" }, older ? 1000 : 25), // reset: 25 since the restart
    ...buckets("grpc_server_handling_seconds_bucket", CHARGE, older ? [900, 1000, 1000, 1000, 1000] : [25, 25, 25, 25, 25]),
  ];
}

const AT = Date.parse("2026-01-01T12:00:00.000Z");

const olderRound: ScrapeRound = {
  at: AT,
  processes: {
    gateway: { health: "SERVING", samples: gateway("older") },
    orders: { health: "SERVING", samples: orders("older") },
    payments: { health: "SERVING", samples: payments("older") },
    notifications: { health: "SERVING", samples: [] },
  },
  nats: "SERVING",
  database: "SERVING",
};

const newerRound: ScrapeRound = {
  at: AT + 5_000,
  processes: {
    gateway: { health: "SERVING", samples: gateway("newer") },
    orders: { health: "SERVING", samples: orders("newer") },
    payments: { health: "NOT_SERVING", samples: payments("newer") },
    notifications: { health: "unreachable" },
  },
  nats: "SERVING",
  database: "unreachable",
};

const nodeOf = (nodes: MapNode[], id: string) => nodes.find((node) => node.id === id);
const edgeOf = (edges: MapEdge[], from: string, label: string) => edges.find((edge) => edge.from === from && edge.label === label);

describe("meshSnapshot", () => {
  const snapshot = meshSnapshot(newerRound, olderRound);

  it("is stamped with the newer round's time, and has a node per process, NATS and the database", () => {
    expect(snapshot.at).toBe("2026-01-01T12:00:05.000Z");
    expect(snapshot.nodes.map((node) => [node.id, node.kind, node.health])).toEqual([
      ["gateway", "edge", "SERVING"],
      ["orders", "service", "SERVING"],
      ["payments", "service", "NOT_SERVING"],
      ["notifications", "service", "unreachable"],
      ["nats", "broker", "SERVING"],
      ["postgres", "database", "unreachable"],
    ]);
  });

  it("gives the edge its HTTP rate, 5xx share and p99, probes and scrapes left out", () => {
    // (40 + 5 + 5) requests / 5 s; 5 of 50 answered 503; p99: rank 49.5 of 50 lies in (0.01, 0.05]
    // past 45, so 0.01 + 0.04 × (49.5 − 45) / (50 − 45) = 0.046 s.
    expect(nodeOf(snapshot.nodes, "gateway")).toMatchObject({ rps: 10, errorRate: 0.1, p99Ms: 46 });
  });

  it("gives a service its gRPC rate, failure share and p99: UNAVAILABLE is a failure, FAILED_PRECONDITION is not, health checks are not traffic", () => {
    // (30 + 10 + 10) calls / 5 s; 10 UNAVAILABLE of 50; p99: rank 49.5 lies in (1, 5] past 49,
    // so 1 + 4 × (49.5 − 49) / (50 − 49) = 3 s.
    expect(nodeOf(snapshot.nodes, "orders")).toMatchObject({ rps: 10, errorRate: 0.2, p99Ms: 3000 });
  });

  it("counts a counter that went down (the process restarted) from zero", () => {
    // 25 calls since the restart / 5 s, all within 10 ms: rank 24.75 of 25 in (0, 0.01]: 0.01 × 24.75/25 = 0.0099 s.
    expect(nodeOf(snapshot.nodes, "payments")).toMatchObject({ rps: 5, errorRate: 0, p99Ms: 9.9 });
  });

  it("shows each process's circuit breakers by state and the sum of its consumers' backlogs", () => {
    expect(nodeOf(snapshot.nodes, "orders")).toMatchObject({
      breakers: [
        { target: "payments", state: "open" },
        { target: "inventory", state: "closed" },
      ],
      backlog: 7,
    });
    expect(nodeOf(snapshot.nodes, "notifications")).toMatchObject({ breakers: [], backlog: 0 });
  });

  it("draws an edge per method a process called, to the service named in its gRPC service", () => {
    const grpcEdges = snapshot.edges.filter((edge) => edge.kind === "grpc");
    expect(grpcEdges.map((edge) => [edge.from, edge.to, edge.label])).toEqual([
      ["gateway", "catalog", "ListProducts"],
      ["orders", "payments", "Charge"],
      ["orders", "inventory", "Reserve"],
    ]);
    // (40 + 10) calls / 5 s; 10 UNAVAILABLE of 50; p99: rank 49.5 lies in (0.05, 1] past 25,
    // so 0.05 + 0.95 × (49.5 − 25) / (50 − 25) = 0.981 s.
    expect(edgeOf(snapshot.edges, "orders", "Charge")).toEqual({ from: "orders", to: "payments", kind: "grpc", label: "Charge", rps: 10, errorRate: 0.2, p99Ms: 981 });
    expect(edgeOf(snapshot.edges, "orders", "Reserve")).toMatchObject({ rps: 4, errorRate: 0 });
  });

  it("draws event edges through NATS: publisher to nats per subject, nats to consumer with its failed deliveries", () => {
    const eventEdges = snapshot.edges.filter((edge) => edge.kind === "event");
    expect(eventEdges).toEqual([
      // 25 published / 5 s.
      { from: "orders", to: "nats", kind: "event", label: "orders.order.placed", rps: 5, errorRate: 0, p99Ms: null },
      // (8 applied + 2 duplicates) / 5 s; 5 failed of 15 deliveries.
      { from: "nats", to: "orders", kind: "event", label: "payments.payment.charged", rps: 2, errorRate: 5 / 15, p99Ms: null },
    ]);
  });

  it("draws the edge of a consumer that has only ever failed, all of it failures", () => {
    const failing = (value: number): ScrapeRound["processes"][string] => ({
      health: "SERVING",
      samples: [sample("bazaar_events_failed_total", { subject: "orders.order.placed", consumer: "inventory-orders_order_placed" }, value)],
    });
    const older: ScrapeRound = { at: AT, processes: { inventory: failing(2) }, nats: "SERVING" };
    const newer: ScrapeRound = { at: AT + 5000, processes: { inventory: failing(12) }, nats: "SERVING" };
    expect(meshSnapshot(newer, older).edges).toEqual([{ from: "nats", to: "inventory", kind: "event", label: "orders.order.placed", rps: 0, errorRate: 1, p99Ms: null }]);
  });

  it("leaves the database off the map when the console was not told where it is", () => {
    const { database: _database, ...withoutDatabase } = newerRound;
    expect(meshSnapshot(withoutDatabase, olderRound).nodes.map((node) => node.id)).toEqual(["gateway", "orders", "payments", "notifications", "nats"]);
  });

  it("has no rates, failure shares or p99 yet without an older round, only health, breakers and backlog", () => {
    const first = meshSnapshot(newerRound);
    for (const node of first.nodes.filter((node) => node.kind === "edge" || node.kind === "service")) {
      expect(node, node.id).toMatchObject({ rps: null, errorRate: null, p99Ms: null });
    }
    expect(nodeOf(first.nodes, "orders")).toMatchObject({ backlog: 7, breakers: [{ target: "payments", state: "open" }, { target: "inventory", state: "closed" }] });
    expect(first.edges.length).toBe(snapshot.edges.length);
    for (const edge of first.edges) expect(edge, edge.label).toMatchObject({ rps: null, errorRate: null, p99Ms: null });
  });
});

describe("quantileMs", () => {
  const bucket = (le: string, value: number, labels: Record<string, string> = {}) => sample("x_bucket", { ...labels, le }, value);

  it("interpolates linearly within the bucket the rank falls in, as PromQL's histogram_quantile", () => {
    // 100 observations: 50 ≤ 0.1 s, 90 ≤ 0.5 s, 100 ≤ 1 s. p50 is the top of the first bucket;
    // p95: rank 95 lies in (0.5, 1] past 90: 0.5 + 0.5 × 5/10 = 0.75 s; p10: 0.1 × 10/50 = 0.02 s.
    const histogram = [bucket("0.1", 50), bucket("0.5", 90), bucket("1", 100), bucket("+Inf", 100)];
    expect(quantileMs(histogram, 0.5)).toBe(100);
    expect(quantileMs(histogram, 0.95)).toBe(750);
    expect(quantileMs(histogram, 0.1)).toBe(20);
  });

  it("sums the series of every label set bound by bound, in whatever order they come", () => {
    // Together: 4 ≤ 0.1, 8 ≤ 1, 8 in all; p75: rank 6 in (0.1, 1] past 4: 0.1 + 0.9 × 2/4 = 0.55 s.
    const two = [bucket("+Inf", 4, { m: "a" }), bucket("1", 4, { m: "a" }), bucket("0.1", 0, { m: "a" }), bucket("0.1", 4, { m: "b" }), bucket("1", 4, { m: "b" }), bucket("+Inf", 4, { m: "b" })];
    expect(quantileMs(two, 0.75)).toBe(550);
  });

  it("answers the highest finite bound when the rank lies past it", () => {
    expect(quantileMs([bucket("0.1", 1), bucket("1", 2), bucket("+Inf", 10)], 0.99)).toBe(1000);
  });

  it("has no answer without observations", () => {
    expect(quantileMs([], 0.99)).toBeNull();
    expect(quantileMs([bucket("0.1", 0), bucket("+Inf", 0)], 0.99)).toBeNull();
  });
});

describe("serviceOfGrpc", () => {
  it.each([
    ["bazaar.payments.v1.PaymentService", "payments"],
    ["bazaar.orders.v1.OrderService", "orders"],
    ["bazaar.inventory.v12.InventoryService", "inventory"],
    ["grpc.health.v1.Health", undefined],
    ["bazaar.payments.PaymentService", undefined],
    ["", undefined],
  ])("reads %j as %j", (grpcService, service) => {
    expect(serviceOfGrpc(grpcService)).toBe(service);
  });
});
