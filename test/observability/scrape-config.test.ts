import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

// The scrape config and the compose file must agree: every service's metrics
// port is scraped, and every target is a real container port.

const read = (path: string) => parse(readFileSync(fileURLToPath(new URL(path, import.meta.url)), "utf8")) as Record<string, any>;
const prometheus = read("../../deploy/prometheus/prometheus.yml");
const compose = read("../../docker-compose.yml");

/** host:port where each compose service serves /metrics: its ADMIN_ADDR, or the gateway's HTTP_ADDR. */
function metricsEndpoints(): string[] {
  return Object.entries(compose.services as Record<string, { environment?: Record<string, string> }>).flatMap(([name, service]) => {
    const address = service.environment?.ADMIN_ADDR ?? (name === "gateway" ? service.environment?.HTTP_ADDR : undefined);
    return address ? [`${name}:${address.split(":").at(-1)}`] : [];
  });
}

describe("the Prometheus scrape config", () => {
  const targets: string[] = prometheus.scrape_configs.flatMap((job: { static_configs: Array<{ targets: string[] }> }) =>
    job.static_configs.flatMap((c) => c.targets),
  );

  it("scrapes exactly the metrics endpoints of the compose services", () => {
    expect(targets.sort()).toEqual(metricsEndpoints().sort());
    expect(targets).toHaveLength(6);
  });

  it("is served to Prometheus and Grafana in compose", () => {
    expect(compose.services.prometheus.volumes).toContain("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro");
    expect(compose.services.grafana.volumes).toContain("./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro");
    expect(compose.services.prometheus.ports).toContain("127.0.0.1:9090:9090");
    expect(compose.services.grafana.ports).toContain("127.0.0.1:3000:3000");
  });
});
