import { describe, expect, it } from "vitest";
import { counterSum, perOrder } from "../../bench/lib/tally.js";

/** The messages-per-order count of `make bench` reads the services' own Prometheus text. */
const METRICS = `# HELP grpc_server_handled_total RPCs completed on the server, by status code.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_type="unary",grpc_service="bazaar.orders.v1.OrderService",grpc_method="PlaceOrder",grpc_code="OK"} 120
grpc_server_handled_total{grpc_type="unary",grpc_service="bazaar.orders.v1.OrderService",grpc_method="PlaceOrder",grpc_code="UNAVAILABLE"} 3
grpc_server_handled_total{grpc_type="unary",grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="OK"} 40
grpc_server_handled_total_extra{grpc_service="bazaar.x"} 1000
bazaar_events_consumed_total{subject="orders.placed",consumer="inventory",outcome="applied"} 100
bazaar_events_consumed_total{subject="orders.placed",consumer="inventory",outcome="duplicate"} 2
bazaar_events_published_total 7
bazaar_db_statements_total 29
`;

describe("the bench's tally of messages", () => {
  it("sums a counter's samples whose labels pass, and no other metric's", () => {
    expect(counterSum(METRICS, "grpc_server_handled_total", (labels) => labels.includes('grpc_service="bazaar.'))).toBe(123);
    expect(counterSum(METRICS, "grpc_server_handled_total")).toBe(163);
    expect(counterSum(METRICS, "bazaar_events_consumed_total", (labels) => labels.includes('outcome="applied"'))).toBe(100);
    expect(counterSum(METRICS, "bazaar_events_published_total")).toBe(7);
    expect(counterSum(METRICS, "bazaar_db_statements_total")).toBe(29);
    expect(counterSum(METRICS, "bazaar_events_failed_total")).toBe(0);
  });

  it("divides what changed by the orders", () => {
    const before = { grpcCalls: 10, eventsPublished: 0, eventsApplied: 5, statements: 0, statementsBy: { orders: 0, payments: 0 }, transactions: 100, rowsReadWhole: 50 };
    const after = { grpcCalls: 410, eventsPublished: 200, eventsApplied: 405, statements: 2900, statementsBy: { orders: 700, payments: 2200 }, transactions: 700, rowsReadWhole: 1050 };
    expect(perOrder(before, after, 100)).toEqual({ grpcCalls: 4, eventsPublished: 2, eventsApplied: 4, statements: 29, statementsBy: { orders: 7, payments: 22 }, transactions: 6, rowsReadWhole: 10 });
  });
});
