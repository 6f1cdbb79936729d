/**
 * One process of the open-loop load generator: PlaceOrder at a constant arrival
 * rate, over gRPC (orders) or HTTP (the gateway). Sends are scheduled by the
 * clock, never by the previous answer, and latency is measured from the
 * scheduled time, so a slow server cannot hide its queue (no coordinated
 * omission). Every order has a fresh idempotency key. Over gRPC it calls
 * orders with the gateway's certificate (the mesh is mutual TLS and only the
 * gateway may PlaceOrder); over HTTP it is a customer with a bearer token.
 *
 * One process serves a whole series of runs, so its code is as warm in the
 * last run as the mesh's (a process per run spent each run's first seconds
 * compiling, on the cores the mesh is measured on). Each run is two lines on
 * stdin: its WorkerPlan (JSON), answered "ready" once the worker is connected
 * and its tokens signed, then the shared start time (epoch ms), answered by
 * one JSON line (WorkerResult) at the end. It exits when stdin ends.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/loadgen-worker.ts   (bench/lib/loadgen.ts starts it)
 */
import { createInterface } from "node:readline";
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

/** Orders come from this many customers, in turn. */
const CUSTOMERS = 97;
const customerOf = (index: number) => `bench-${index % CUSTOMERS}`;
/** Each customer's bearer token, signed once per process, before "ready", so signing never counts as latency. */
const authorizations = new Map<string, string>();

class Failure extends Error {}

/** How one run sends an order, and how it lets go of its connection afterwards. */
interface Sender {
  send(order: PlaceOrderRequest): Promise<void>;
  close(): void;
}

async function connectSender(plan: WorkerPlan): Promise<Sender> {
  if (plan.target === "grpc") {
    // As the gateway calls orders: its certificate, mutual TLS.
    const session = await connectH2(`https://${plan.address}`, tlsFiles(plan.tlsDir, "gateway"));
    return {
      send: async (order) => {
        const status = await grpcUnary(session, OrderServiceService.placeOrder.path, grpcFrame(PlaceOrderRequest.encode(order).finish()), plan.deadlineMs);
        if (status !== 0) throw new Failure(grpc.status[status] ?? String(status));
      },
      close: () => session.destroy(),
    };
  }
  if (authorizations.size === 0) {
    const auth = devAuthConfig();
    for (let index = 0; index < CUSTOMERS; index++) authorizations.set(customerOf(index), `Bearer ${await signCustomerToken(auth, customerOf(index))}`);
  }
  const client = http1Client(new URL(plan.address));
  return {
    send: async (order) => {
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
    },
    close: () => client.close(),
  };
}

/** One run: `plan`'s orders from `startAt` (epoch ms; this worker offsets itself by its phase), every answer awaited. */
async function run(plan: WorkerPlan, sender: Sender, startAt: number): Promise<WorkerResult> {
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
        inFlight.push(
          sender.send(orderOf(next)).then(
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
  lags.sort((a, b) => a - b);
  return {
    sent: total,
    latenciesMs: latencies.map((value) => Math.round(value * 100) / 100),
    errors,
    sendLagP99Ms: Math.round((lags[Math.floor(lags.length * 0.99)] ?? 0) * 100) / 100,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

let prepared: { plan: WorkerPlan; sender: Sender } | undefined;
for await (const line of createInterface({ input: process.stdin })) {
  if (prepared === undefined) {
    const plan = JSON.parse(line) as WorkerPlan;
    prepared = { plan, sender: await connectSender(plan) };
    process.stdout.write("ready\n");
  } else {
    const { plan, sender } = prepared;
    prepared = undefined;
    const result = await run(plan, sender, Number(line));
    sender.close();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}
process.exit(0);
