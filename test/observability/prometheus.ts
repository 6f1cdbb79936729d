import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../lib/test/support/process.js";

/**
 * A real Prometheus server (Debian's `prometheus` package) running the
 * project's scrape config with every target's host rewritten to 127.0.0.1, so
 * it scrapes the mesh `make up` started. Scrapes every second for the test.
 */
export interface TestPrometheus {
  url: string;
  query(expr: string): Promise<unknown[]>;
  targets(): Promise<Array<{ scrapeUrl: string; health: string; lastError: string }>>;
  stop(): Promise<void>;
}

const CONFIG = fileURLToPath(new URL("../../deploy/prometheus/prometheus.yml", import.meta.url));

export async function startPrometheus(): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "bazaar-prometheus-"));
  const config = readFileSync(CONFIG, "utf8")
    .replace(/"[a-z-]+:(\d+)"/g, '"127.0.0.1:$1"')
    .replace(/scrape_interval: \d+s/, "scrape_interval: 1s");
  writeFileSync(join(dir, "prometheus.yml"), config);
  const port = await freePort();
  const server: ChildProcess = spawn(
    "prometheus",
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: "ignore" },
  );
  server.on("error", () => {});
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => ((await (await fetch(`${url}${path}`)).json()) as { data: T }).data;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error("prometheus exited at start (apt-get install -y prometheus)");
    if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error("prometheus did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    query: async (expr) => (await api<{ result: unknown[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    targets: async () => (await api<{ activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }> }>("/api/v1/targets")).activeTargets,
    async stop() {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
