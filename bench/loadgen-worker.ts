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
import { Agent, request as httpRequest } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { OrderServiceService, type PlaceOrderRequest } from "@bazaar/gen/bazaar/orders/v1/orders";
import { devAuthConfig } from "../scripts/dev-env.js";
import { signCustomerToken } from "@bazaar/shop/customer-token";
import { mtlsClient, unary } from "./lib/grpc-call.js";

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
  const client = mtlsClient(plan.address, plan.tlsDir, "gateway", "orders");
  close = () => client.close();
  send = async (order) => {
    try {
      await unary(client, OrderServiceService.placeOrder, order, plan.deadlineMs);
    } catch (error) {
      throw new Failure(grpc.status[(error as grpc.ServiceError).code] ?? "UNKNOWN");
    }
  };
} else {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const url = new URL("/api/orders", plan.address);
  close = () => agent.destroy();
  send = (order) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({
        customer_id: order.customerId,
        items: order.items.map((item) => ({ product_id: item.productId, quantity: item.quantity })),
        payment_token: order.paymentToken,
      });
      const req = httpRequest(
        url,
        {
          method: "POST",
          agent,
          timeout: plan.deadlineMs,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            "idempotency-key": order.idempotencyKey,
            authorization: authorizations.get(order.customerId)!,
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Failure(`HTTP ${res.statusCode}`))));
        },
      );
      req.on("timeout", () => req.destroy(new Failure("timeout")));
      req.on("error", (error) => reject(error instanceof Failure ? error : new Failure(`socket: ${(error as NodeJS.ErrnoException).code ?? error.message}`)));
      req.end(body);
    });
}

class Failure extends Error {}

const inFlight: Promise<void>[] = [];
let next = 0;
await new Promise<void>((done) => {
  // A 1 ms tick sends everything that is due: timers can fire late, but the schedule never slips.
  const tick = () => {
    const current = now();
    while (next < total) {
      const scheduled = startAt + (next + plan.phase) * interval;
      if (scheduled > current) break;
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
    if (next >= total) {
      clearInterval(timer);
      done();
    }
  };
  const timer = setInterval(tick, 1);
});
await Promise.all(inFlight);
close();
lags.sort((a, b) => a - b);
const result: WorkerResult = {
  sent: total,
  latenciesMs: latencies.map((value) => Math.round(value * 100) / 100),
  errors,
  sendLagP99Ms: Math.round((lags[Math.floor(lags.length * 0.99)] ?? 0) * 100) / 100,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
