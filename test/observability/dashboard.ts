import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The provisioned Grafana dashboard and the PromQL of its panels. */
export const DASHBOARD_PATH = fileURLToPath(new URL("../../deploy/grafana/dashboards/bazaar.json", import.meta.url));

interface Panel {
  title: string;
  type: string;
  datasource?: { uid: string };
  targets?: Array<{ expr: string }>;
}

export function dashboardQueries(): Array<{ panel: string; expr: string; datasource: string | undefined }> {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, "utf8")) as { panels: Panel[] };
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr, datasource: panel.datasource?.uid })),
  );
}

const PROMQL_WORDS = new Set(["sum", "rate", "irate", "increase", "histogram_quantile", "by", "without", "avg", "max", "min", "count", "le"]);

/** The metric names a PromQL expression reads: what is left once labels, ranges, functions and numbers are removed. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // range selectors
    .replace(/\b(by|without)\s*\([^)]*\)/g, " "); // grouping labels
  return [...stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((m) => m[0]).filter((word) => !PROMQL_WORDS.has(word));
}
