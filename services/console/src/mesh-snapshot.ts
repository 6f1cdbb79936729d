import { type Sample } from "./prometheus-text.js";

/**
 * The mesh map from the processes' own metrics: two scrapes of every process a
 * few seconds apart give each node its rate, error rate and p99, and each edge
 * (a gRPC method called, an event subject published or consumed) the same. No
 * Prometheus needed: these are the counters and histograms every process serves
 * on its admin port (lib/src/observability/metrics.ts). Pure: the poller
 * (mesh-watch.ts) feeds it.
 */

export type Health = "SERVING" | "NOT_SERVING" | "unreachable" | "unknown";

/** What one process said at one moment: its health, and its metrics if it answered. */
export interface ProcessScrape {
  health: Health;
  samples?: Sample[];
}

/** Every process scraped at one moment (epoch ms), and the health of NATS and the database. */
export interface ScrapeRound {
  at: number;
  processes: Record<string, ProcessScrape>;
  nats: Health;
  /** Undefined: the console was not told where the database is. */
  database?: Health;
}

export interface MapNode {
  id: string;
  kind: "edge" | "service" | "broker" | "database";
  health: Health;
  rps?: number | null;
  errorRate?: number | null;
  p99Ms?: number | null;
  breakers?: Array<{ target: string; state: "closed" | "half_open" | "open" }>;
  backlog?: number;
}

export interface MapEdge {
  from: string;
  to: string;
  kind: "grpc" | "event";
  label: string;
  rps: number | null;
  errorRate: number | null;
  p99Ms: number | null;
}

export interface MeshSnapshot {
  at: string;
  nodes: MapNode[];
  edges: MapEdge[];
}

/** gRPC codes that mean the server or the network failed, not the request (as the gateway maps them to 5xx). */
const FAILURE_CODES = new Set(["UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"]);
const BREAKER_STATES = ["closed", "half_open", "open"] as const;
/** Probes and scrapes are not traffic. */
const PROBE_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

/** "bazaar.payments.v1.PaymentService" → "payments". */
export const serviceOfGrpc = (grpcService: string) => /^bazaar\.([a-z0-9_]+)\.v\d+\./.exec(grpcService)?.[1];

/** The map from an older and a newer round of scrapes (the older may be missing: no rates yet). */
export function meshSnapshot(newer: ScrapeRound, older?: ScrapeRound): MeshSnapshot {
  const seconds = older ? (newer.at - older.at) / 1000 : 0;
  const nodes: MapNode[] = [];
  const edges: MapEdge[] = [];
  for (const [name, scrape] of Object.entries(newer.processes)) {
    const now = scrape.samples ?? [];
    const before = older?.processes[name]?.samples;
    const delta = (filter: (sample: Sample) => boolean) => deltas(now, before, filter);
    const isEdge = now.some((sample) => sample.name === "http_server_requests_total");
    const traffic = isEdge
      ? trafficOf(delta((s) => s.name === "http_server_requests_total" && !PROBE_ROUTES.has(s.labels.route ?? "")), (s) => Number(s.labels.code) >= 500, delta((s) => s.name === "http_server_request_duration_seconds_bucket" && !PROBE_ROUTES.has(s.labels.route ?? "")), seconds)
      : trafficOf(delta((s) => s.name === "grpc_server_handled_total" && !s.labels.grpc_service?.startsWith("grpc.")), (s) => FAILURE_CODES.has(s.labels.grpc_code ?? ""), delta((s) => s.name === "grpc_server_handling_seconds_bucket" && !s.labels.grpc_service?.startsWith("grpc.")), seconds);
    nodes.push({
      id: name,
      kind: isEdge ? "edge" : "service",
      health: scrape.health,
      ...traffic,
      breakers: now.filter((s) => s.name === "bazaar_circuit_breaker_state").map((s) => ({ target: s.labels.target ?? "?", state: BREAKER_STATES[s.value] ?? "open" })),
      backlog: now.filter((s) => s.name === "bazaar_consumer_pending_events").reduce((sum, s) => sum + s.value, 0),
    });
    edges.push(...grpcEdges(name, now, before, seconds), ...eventEdges(name, now, before, seconds));
  }
  nodes.push({ id: "nats", kind: "broker", health: newer.nats });
  if (newer.database !== undefined) nodes.push({ id: "postgres", kind: "database", health: newer.database });
  return { at: new Date(newer.at).toISOString(), nodes, edges };
}

/** Each of a process's calls, one edge per method it has called. */
function grpcEdges(from: string, now: Sample[], before: Sample[] | undefined, seconds: number): MapEdge[] {
  const methods = new Map<string, { to: string; method: string; grpcService: string }>();
  for (const sample of now) {
    if (sample.name !== "grpc_client_handled_total") continue;
    const to = serviceOfGrpc(sample.labels.grpc_service ?? "");
    if (to === undefined) continue;
    methods.set(`${sample.labels.grpc_service}/${sample.labels.grpc_method}`, { to, method: sample.labels.grpc_method ?? "?", grpcService: sample.labels.grpc_service! });
  }
  return [...methods.values()].map(({ to, method, grpcService }) => {
    const same = (s: Sample) => s.labels.grpc_service === grpcService && s.labels.grpc_method === method;
    const traffic = trafficOf(
      deltas(now, before, (s) => s.name === "grpc_client_handled_total" && same(s)),
      (s) => FAILURE_CODES.has(s.labels.grpc_code ?? ""),
      deltas(now, before, (s) => s.name === "grpc_client_handling_seconds_bucket" && same(s)),
      seconds,
    );
    return { from, to, kind: "grpc" as const, label: method, rps: traffic.rps, errorRate: traffic.errorRate, p99Ms: traffic.p99Ms };
  });
}

/** A publisher's edge to NATS per subject it published, and NATS's edge to a consumer per subject it applied. */
function eventEdges(name: string, now: Sample[], before: Sample[] | undefined, seconds: number): MapEdge[] {
  const edges: MapEdge[] = [];
  const bySubject = (metric: string, outbound: boolean, failures?: string) => {
    // A consumer that has only ever failed still gets its edge (in red).
    const subjects = new Set(now.filter((s) => s.name === metric || s.name === failures).map((s) => s.labels.subject ?? "?"));
    for (const subject of subjects) {
      const count = deltas(now, before, (s) => s.name === metric && s.labels.subject === subject);
      const failed = failures ? deltas(now, before, (s) => s.name === failures && s.labels.subject === subject) : [];
      const total = sum(count);
      const rps = seconds > 0 ? total / seconds : null;
      const failedTotal = sum(failed);
      edges.push({
        from: outbound ? name : "nats",
        to: outbound ? "nats" : name,
        kind: "event",
        label: subject,
        rps,
        errorRate: seconds > 0 && total + failedTotal > 0 ? failedTotal / (total + failedTotal) : seconds > 0 ? 0 : null,
        p99Ms: null,
      });
    }
  };
  bySubject("bazaar_events_published_total", true);
  bySubject("bazaar_events_consumed_total", false, "bazaar_events_failed_total");
  return edges;
}

/** A sample's increase since `before` (the whole value when it is new: a counter that appeared or was reset). */
function deltas(now: Sample[], before: Sample[] | undefined, filter: (sample: Sample) => boolean): Sample[] {
  if (before === undefined) return [];
  const previous = new Map(before.filter(filter).map((sample) => [keyOf(sample), sample.value]));
  return now.filter(filter).map((sample) => {
    const old = previous.get(keyOf(sample)) ?? 0;
    return { ...sample, value: sample.value >= old ? sample.value - old : sample.value };
  });
}

const keyOf = (sample: Sample) => `${sample.name}{${Object.entries(sample.labels).sort().map(([k, v]) => `${k}=${v}`).join(",")}}`;
const sum = (samples: Sample[]) => samples.reduce((total, sample) => total + sample.value, 0);

/** Rate, share of failures and p99 from the increases of a counter by outcome and of a histogram's buckets. */
function trafficOf(counts: Sample[], failed: (sample: Sample) => boolean, buckets: Sample[], seconds: number): { rps: number | null; errorRate: number | null; p99Ms: number | null } {
  if (seconds <= 0) return { rps: null, errorRate: null, p99Ms: null };
  const total = sum(counts);
  return {
    rps: round(total / seconds),
    errorRate: total > 0 ? round(sum(counts.filter(failed)) / total) : 0,
    p99Ms: quantileMs(buckets, 0.99),
  };
}

/** The q-quantile in ms from cumulative bucket increases (le labels), summed over series; linear within a bucket, as PromQL's histogram_quantile. */
export function quantileMs(buckets: Sample[], q: number): number | null {
  const byBound = new Map<number, number>();
  for (const sample of buckets) {
    const bound = sample.labels.le === "+Inf" ? Infinity : Number(sample.labels.le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
  }
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  const total = byBound.get(Infinity) ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bound of bounds) {
    const count = byBound.get(bound)!;
    if (count >= rank) {
      if (bound === Infinity) return round(lower * 1000); // past the last bound: its lower edge, as Prometheus does
      return round((lower + ((bound - lower) * (rank - below)) / Math.max(count - below, 1e-9)) * 1000);
    }
    lower = bound;
    below = count;
  }
  return null;
}

const round = (value: number) => Math.round(value * 100) / 100;
