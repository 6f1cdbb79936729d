/**
 * One process of the open-loop load generator: PlaceOrder at a constant arrival
 * rate, over gRPC (orders) or HTTP (the gateway). Sends are scheduled by the
 * clock, never by the previous answer, and latency is measured from the
 * scheduled time, so a slow server cannot hide its queue (no coordinated
 * omission). Every order has a fresh idempotency key. Over gRPC it calls
 * orders with the gateway's certificate (the mesh is mutual TLS and only the
 * gateway may PlaceOrder); over HTTP it is a customer with a bearer token.
 * Once loaded it prints "ready" and waits for the shared start time (epoch ms)
 * on stdin, so module loading never counts as latency; at the end it prints
 * one JSON line.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/loadgen-worker.ts '<json WorkerPlan>'
 */
import * as grpc from "@grpc/grpc-js";
import { OrderServiceService, PlaceOrderRequest } from "@bazaar/gen/bazaar/orders/v1/orders";
import { devAuthConfig } from "../scripts/dev-env.js";
import { signCustomerToken } from "@bazaar/shop/customer-token";
import { connectH2, grpcFrame, grpcUnary, tlsFiles } from "./lib/h2-grpc.js";
import { http1Client, HttpFailure } from "./lib/http1-client.js";

export interface WorkerPlan {
  target: "grpc" | "http";
  /** host:port of orders, or http://host:port of the gateway. */
  address: string;
  /** Orders per second from this worker. */
  rate: number;
  seconds: number;
  phase: number;
  /** Unique per run and worker: part of every idempotency key. */
  keyPrefix: string;
  deadlineMs: number;
  products: string[];
  /** Certificates of the mesh: over gRPC this worker is the gateway (mutual TLS, allowed to PlaceOrder). */
  tlsDir: string;
}

export interface WorkerResult {
  sent: number;
  /** Milliseconds from the scheduled send to the answer, successful orders only. */
  latenciesMs: number[];
  /** Failures by gRPC code name or HTTP status. */
  errors: Record<string, number>;
  /** How late the generator itself sent, p99 (ms): if this grows, the generator is the bottleneck. */
  sendLagP99Ms: number;
  /** CPU-seconds this process used from the first send until the last answer. */
  cpuSeconds: number;
}

const plan = JSON.parse(process.argv[2]!) as WorkerPlan;
/** Orders come from this many customers, in turn. */
const CUSTOMERS = 97;
const customerOf = (index: number) => `bench-${index % CUSTOMERS}`;
// Over HTTP each customer sends their bearer token, signed before "ready" so signing never counts as latency.
const authorizations = new Map<string, string>();
if (plan.target === "http") {
  const auth = devAuthConfig();
  for (let index = 0; index < CUSTOMERS; index++) authorizations.set(customerOf(index), `Bearer ${await signCustomerToken(auth, customerOf(index))}`);
}
/** The first send's epoch ms, shared by every worker; each offsets itself by `phase` (0..1 of an interval). */
const startAt = await new Promise<number>((resolve) => {
  process.stdout.write("ready\n");
  process.stdin.once("data", (chunk) => resolve(Number(chunk.toString().trim())));
});
process.stdin.pause();
const now = () => performance.timeOrigin + performance.now();
const total = Math.round(plan.rate * plan.seconds);
const interval = 1000 / plan.rate;
const latencies: number[] = [];
const lags: number[] = [];
const errors: Record<string, number> = {};
const fail = (reason: string) => (errors[reason] = (errors[reason] ?? 0) + 1);

const orderOf = (index: number): PlaceOrderRequest => ({
  customerId: customerOf(index),
  items: [{ productId: plan.products[index % plan.products.length]!, quantity: 1 }],
  paymentToken: "tok_visa",
  idempotencyKey: `${plan.keyPrefix}-${index}`,
});

let send: (order: PlaceOrderRequest) => Promise<void>;
let close = () => {};
if (plan.target === "grpc") {
  // As the gateway calls orders: its certificate, mutual TLS.
  const session = await connectH2(`https://${plan.address}`, tlsFiles(plan.tlsDir, "gateway"));
  close = () => session.destroy();
  send = async (order) => {
    const status = await grpcUnary(session, OrderServiceService.placeOrder.path, grpcFrame(PlaceOrderRequest.encode(order).finish()), plan.deadlineMs);
    if (status !== 0) throw new Failure(grpc.status[status] ?? String(status));
  };
} else {
  const client = http1Client(new URL(plan.address));
  close = () => client.close();
  send = async (order) => {
    const body = JSON.stringify({
      customer_id: order.customerId,
      items: order.items.map((item) => ({ product_id: item.productId, quantity: item.quantity })),
      payment_token: order.paymentToken,
    });
    const headers = { "content-type": "application/json", "idempotency-key": order.idempotencyKey, authorization: authorizations.get(order.customerId)! };
    let status: number;
    try {
      status = await client.post("/api/orders", headers, body, plan.deadlineMs);
    } catch (error) {
      throw new Failure(error instanceof HttpFailure ? error.message : String(error));
    }
    if (status !== 201) throw new Failure(`HTTP ${status}`);
  };
}

class Failure extends Error {}

const cpuAtStart = process.cpuUsage();
const inFlight: Promise<void>[] = [];
let next = 0;
await new Promise<void>((done) => {
  // Each wake sends everything that is due, then sleeps until the next send is: a timer can fire
  // late, but the schedule never slips (a 1 ms tick woke the process 1,000 times a second for nothing).
  const tick = () => {
    const current = now();
    while (next < total) {
      const scheduled = startAt + (next + plan.phase) * interval;
      if (scheduled > current) return void setTimeout(tick, scheduled - current);
      lags.push(current - scheduled);
      const order = orderOf(next);
      inFlight.push(
        send(order).then(
          () => void latencies.push(now() - scheduled),
          (error: unknown) => void fail(error instanceof Failure ? error.message : String(error)),
        ),
      );
      next += 1;
    }
    done();
  };
  tick();
});
await Promise.all(inFlight);
const cpu = process.cpuUsage(cpuAtStart);
close();
lags.sort((a, b) => a - b);
const result: WorkerResult = {
  sent: total,
  latenciesMs: latencies.map((value) => Math.round(value * 100) / 100),
  errors,
  sendLagP99Ms: Math.round((lags[Math.floor(lags.length * 0.99)] ?? 0) * 100) / 100,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
