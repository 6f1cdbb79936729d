import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { collectProcessMetrics, registry } from "../../lib/src/observability/metrics.js";
import { dashboardQueries, metricNamesIn } from "./dashboard.js";

// The dashboard can only show what the services export: every metric a panel
// queries must be one the runtime defines (histograms with their series suffixes).

collectProcessMetrics();
const exported = new Set(
  (await registry.getMetricsAsJSON()).flatMap((metric) =>
    String(metric.type) === "histogram" ? [`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`] : [metric.name],
  ),
);

describe("the Grafana dashboard", () => {
  const queries = dashboardQueries();

  it("has panels for RED per service and method, the event flow and the outbox", () => {
    const names = new Set(queries.flatMap((q) => metricNamesIn(q.expr)));
    for (const name of [
      "grpc_server_handled_total",
      "grpc_server_handling_seconds_bucket",
      "bazaar_events_published_total",
      "bazaar_events_consumed_total",
      "bazaar_events_dead_lettered_total",
      "bazaar_outbox_oldest_pending_age_seconds",
    ]) {
      expect(names, name).toContain(name);
    }
  });

  it.each(dashboardQueries().map((q) => [q.panel, q.expr] as const))("%s reads only exported metrics: %s", (_panel, expr) => {
    const names = metricNamesIn(expr);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(exported, `${name} is not exported by the runtime`).toContain(name);
  });

  it("uses the provisioned Prometheus datasource", () => {
    const provisioned = readFileSync(fileURLToPath(new URL("../../deploy/grafana/provisioning/datasources/prometheus.yml", import.meta.url)), "utf8");
    const uid = /uid:\s*(\S+)/.exec(provisioned)?.[1];
    expect(new Set(queries.map((q) => q.datasource))).toEqual(new Set([uid]));
  });

  it("catches a query of a metric nobody exports", () => {
    expect(metricNamesIn('sum by (grpc_code) (rate(grpc_server_handeld_total{grpc_code!="OK"}[1m]))')).toEqual(["grpc_server_handeld_total"]);
    expect(exported).not.toContain("grpc_server_handeld_total");
  });
});
