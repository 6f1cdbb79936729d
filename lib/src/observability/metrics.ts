import { status } from "@grpc/grpc-js";
import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from "prom-client";
import { BoundCounter, BoundHistogram } from "./bound-metrics.js";

/**
 * Every metric a Bazaar process exports, defined once. The gRPC ones carry the
 * names and labels of go-grpc-prometheus, so dashboards written for Go services
 * work unchanged; the event ones are ours (bazaar_*). One registry per process:
 * prom-client's default, served at /metrics on the admin port.
 */
export const registry = register;

let defaultsStarted = false;
/** Process metrics (CPU, memory, event loop lag, GC): started once per process. */
export function collectProcessMetrics(): void {
  if (defaultsStarted) return;
  defaultsStarted = true;
  collectDefaultMetrics({ register });
}

/** Seconds; from 0.5 ms (a cached read) to 10 s (a saga past its budget). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RPC_LABELS = ["grpc_type", "grpc_service", "grpc_method"] as const;

/** The three go-grpc-prometheus metrics of one side (server or client), bumped on every call: bound series (bound-metrics.ts). */
function rpcMetrics(side: "server" | "client", help: { started: string; handled: string; handling: string }) {
  return {
    started: new BoundCounter({ name: `grpc_${side}_started_total`, help: help.started, labelNames: RPC_LABELS }),
    handled: new BoundCounter({ name: `grpc_${side}_handled_total`, help: help.handled, labelNames: [...RPC_LABELS, "grpc_code"] }),
    handling: new BoundHistogram({ name: `grpc_${side}_handling_seconds`, help: help.handling, labelNames: RPC_LABELS, buckets: LATENCY_BUCKETS }),
  };
}

export const grpcServerMetrics = rpcMetrics("server", {
  started: "RPCs started on the server.",
  handled: "RPCs completed on the server, by status code.",
  handling: "Time from the start of an RPC to its status, on the server.",
});

export const grpcClientMetrics = rpcMetrics("client", {
  started: "RPCs started by this process's clients.",
  handled: "RPCs completed by this process's clients, by status code.",
  handling: "Time from the start of an RPC to its status, as the client saw it.",
});

/** One method's go-grpc-prometheus metrics (a server's or a client's), their series bound once. */
export interface MethodMetrics {
  /** A call began: started_total. */
  started(): void;
  /** A call ended with `code` after `elapsedMs`: handled_total by code, and handling_seconds. */
  ended(code: status, elapsedMs: number): void;
}

export function methodMetrics(metrics: typeof grpcServerMetrics | typeof grpcClientMetrics, path: string, type = "unary"): MethodMetrics {
  const labels = rpcLabels(path, type);
  const started = metrics.started.bind(labels);
  const handling = metrics.handling.bind(labels);
  const byCode = new Map<status, { inc(): void }>();
  return {
    started: () => started.inc(),
    ended: (code, elapsedMs) => {
      let handled = byCode.get(code);
      if (handled === undefined) {
        handled = metrics.handled.bind({ ...labels, grpc_code: status[code] ?? String(code) });
        byCode.set(code, handled);
      }
      handled.inc();
      handling.observe(elapsedMs / 1000);
    },
  };
}

/** Memory-reducing collections run because the process fell idle (idle-memory.ts): whoever reads a process's idle memory can wait for one. */
export const idleCollections = new Counter({
  name: "bazaar_idle_collections_total",
  help: "Memory-reducing garbage collections run because the process fell idle after start-up or a busy spell.",
});

/** The gateway's HTTP side: requests by route pattern (never raw paths, so ids don't explode the series). */
export const httpServerMetrics = {
  requests: new Counter({
    name: "http_server_requests_total",
    help: "HTTP requests answered, by method, route pattern and status code.",
    labelNames: ["method", "route", "code"],
  }),
  duration: new Histogram({
    name: "http_server_request_duration_seconds",
    help: "Time from the request to the end of the answer.",
    labelNames: ["method", "route"],
    buckets: LATENCY_BUCKETS,
  }),
};

export const eventMetrics = {
  published: new Counter({ name: "bazaar_events_published_total", help: "Events the outbox relay published to JetStream.", labelNames: ["subject"] }),
  consumed: new Counter({
    name: "bazaar_events_consumed_total",
    help: "Events consumers acknowledged; outcome is applied or duplicate (already in the inbox).",
    labelNames: ["subject", "consumer", "outcome"],
  }),
  failed: new Counter({
    name: "bazaar_events_failed_total",
    help: "Event deliveries whose handler failed (they are redelivered).",
    labelNames: ["subject", "consumer"],
  }),
  deadLettered: new Counter({
    name: "bazaar_events_dead_lettered_total",
    help: "Events moved to the DEAD_LETTERS stream.",
    labelNames: ["subject", "consumer"],
  }),
};

/**
 * Round trips to the database: every statement sent, BEGIN and COMMIT
 * included (each is a message to the server and back, what a request's cost
 * is mostly made of; bench/ counts them per order).
 */
export const databaseStatements = new Counter({ name: "bazaar_db_statements_total", help: "Statements sent to the database, BEGIN, COMMIT and ROLLBACK included." });

/** Gauges read when scraped, from sources registered by the running parts (outboxes, consumers). */
type Source = () => Promise<Array<{ labels: Record<string, string>; value: number }>>;
const gaugeSources = new Map<string, Map<string, Source>>();

function sampledGauge(name: string, help: string, labelNames: string[]) {
  const sources = new Map<string, Source>();
  gaugeSources.set(name, sources);
  new Gauge({
    name,
    help,
    labelNames,
    async collect() {
      this.reset();
      for (const source of sources.values()) {
        for (const sample of await source().catch(() => [])) this.set(sample.labels, sample.value);
      }
    },
  });
  return sources;
}

export const outboxPending = sampledGauge("bazaar_outbox_pending_events", "Outbox rows not yet published.", ["service"]);
export const outboxOldestAge = sampledGauge(
  "bazaar_outbox_oldest_pending_age_seconds",
  "Age of the oldest unpublished outbox row (0 when none).",
  ["service"],
);
export const consumerPending = sampledGauge(
  "bazaar_consumer_pending_events",
  "Messages in the stream the durable consumer has not received yet, plus those awaiting its ack.",
  ["stream", "consumer"],
);

/** "/bazaar.catalog.v1.CatalogService/GetProduct" → service and method labels. */
export function rpcLabels(path: string, type = "unary"): { grpc_type: string; grpc_service: string; grpc_method: string } {
  const [, service = "", method = ""] = path.split("/");
  return { grpc_type: type, grpc_service: service, grpc_method: method };
}

export function rpcType(method: { requestStream: boolean; responseStream: boolean }): string {
  if (method.requestStream) return method.responseStream ? "bidi_stream" : "client_stream";
  return method.responseStream ? "server_stream" : "unary";
}

/**
 * The clients' resilience (grpc/resilience.ts), by downstream `target` (the
 * name a client was given, e.g. "payments"): what each circuit breaker says,
 * which calls were retried, and which were failed at once without reaching the
 * downstream (circuit open, bulkhead full).
 */
export const CIRCUIT_STATE = { closed: 0, half_open: 1, open: 2 } as const;

export const clientResilienceMetrics = {
  breakerState: new Gauge({
    name: "bazaar_circuit_breaker_state",
    help: "Circuit breaker state per downstream: 0 closed, 1 half-open, 2 open.",
    labelNames: ["target"],
  }),
  retries: new Counter({
    name: "bazaar_grpc_client_retries_total",
    help: "Attempts retried by this process's clients (idempotent methods only), by the status that caused the retry.",
    labelNames: ["target", "grpc_service", "grpc_method", "grpc_code"],
  }),
  rejected: new Counter({
    name: "bazaar_grpc_client_rejected_total",
    help: "Calls failed at once without reaching the downstream: reason circuit_open or bulkhead_full.",
    labelNames: ["target", "reason"],
  }),
};
