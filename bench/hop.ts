/**
 * Measurement 1, hop overhead: CatalogService.GetProduct served by a bare
 * grpc-js server, by the runtime's full server stack with the answer in memory
 * (logs to a file, and logs off), and by the real catalog (PGlite query
 * included), all loaded by h2load with the same prepared gRPC body. Servers run
 * on core 0, h2load on core 1; rounds are interleaved (the server order rotates)
 * so drift on a shared machine hits every server alike, and each round's
 * figures are divided by the bare server's from the same round.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/hop.ts <out.json>
 * Env: BENCH_HOP_ROUNDS (3), BENCH_HOP_SECONDS (4), BENCH_PROFILE_DIR (write --cpu-prof of the servers there)
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CatalogServiceService, GetProductRequest, type GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { h2load, type H2loadResult, writeBody } from "./lib/h2load.js";
import { insecureClient, unary } from "./lib/grpc-call.js";
import { freePort, httpOk, ROOT, type Started, startProcess, stopProcess, waitFor } from "./lib/process.js";
import { median, round } from "./lib/stats.js";

const ROUNDS = Number(process.env.BENCH_HOP_ROUNDS) || 3;
const SECONDS = Number(process.env.BENCH_HOP_SECONDS) || 4;
const IN_FLIGHT = [100, 1] as const;
const SERVER_CORE = 0;
const LOAD_CORE = 1;
const PRODUCT = "v60-dripper";

interface Server {
  key: string;
  label: string;
  started: Started;
  address: string;
}

const work = mkdtempSync(join(tmpdir(), "bazaar-bench-hop-"));
const profileArgs = (name: string) =>
  // One directory per server: tsx's loader thread writes a profile of its own next to the main thread's.
  process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${join(process.env.BENCH_PROFILE_DIR, name)}`] : [];
const servers: Server[] = [];

/** Start a server pinned to the server core and wait until GetProduct answers. */
async function startServer(key: string, label: string, args: string[], env: NodeJS.ProcessEnv, port: number): Promise<Server> {
  const started = startProcess(key, process.execPath, [...profileArgs(key), ...args], env, join(work, `${key}.log`), SERVER_CORE);
  const address = `127.0.0.1:${port}`;
  const client = insecureClient(address);
  try {
    await waitFor(started, async () => {
      const answer = await unary(client, CatalogServiceService.getProduct, { id: PRODUCT }, 1000);
      return answer.product?.id === PRODUCT;
    });
  } finally {
    client.close();
  }
  const server = { key, label, started, address };
  servers.push(server);
  return server;
}

try {
  // The real catalog first: its answer is the one the other servers give.
  const catalogPort = await freePort();
  const adminPort = await freePort();
  const catalog = await startServer(
    "catalog",
    "real catalog (PGlite query, logs to a file)",
    [join(ROOT, "services", "catalog", "dist", "main.js")],
    { GRPC_ADDR: `127.0.0.1:${catalogPort}`, ADMIN_ADDR: `127.0.0.1:${adminPort}`, DATABASE_URL: "memory://", LOG_LEVEL: "info" },
    catalogPort,
  );
  await waitFor(catalog.started, () => httpOk(`http://127.0.0.1:${adminPort}/readyz`));
  const client = insecureClient(catalog.address);
  const response: GetProductResponse = await unary(client, CatalogServiceService.getProduct, { id: PRODUCT }, 5000);
  client.close();
  const responseFile = join(work, "response.json");
  writeFileSync(responseFile, JSON.stringify(CatalogServiceService.getProduct.responseDeserialize(CatalogServiceService.getProduct.responseSerialize(response))));

  // Plain `node --import tsx` (no bazaar-source condition): workspace imports resolve to the compiled dist/.
  const tsx = ["--import", "tsx"];
  const barePort = await freePort();
  await startServer("bare", "bare grpc-js (no middleware)", [...tsx, join(ROOT, "bench", "hop-bare-server.ts"), String(barePort), responseFile], {}, barePort);
  for (const [key, label, level] of [
    ["runtime", "runtime stack, answer from memory, logs to a file", "info"],
    ["runtime-silent", "runtime stack, answer from memory, LOG_LEVEL=silent", "silent"],
  ] as const) {
    const port = await freePort();
    await startServer(key, label, [...tsx, join(ROOT, "bench", "hop-runtime-server.ts"), String(port), responseFile], { LOG_LEVEL: level }, port);
  }

  const body = join(work, "get-product.bin");
  writeBody(body, GetProductRequest.encode({ id: PRODUCT }).finish());
  const order = ["bare", "runtime", "runtime-silent", "catalog"];
  const results: Record<string, Record<number, H2loadResult[]>> = {};
  const ratios: Record<string, Record<number, { rps: number[]; p50: number[] }>> = {};
  const logBytes: Record<string, { bytes: number; requests: number }> = {};
  for (let round_ = 0; round_ < ROUNDS; round_ += 1) {
    for (const inFlight of IN_FLIGHT) {
      const rotated = [...order.slice(round_ % order.length), ...order.slice(0, round_ % order.length)];
      const thisRound: Record<string, H2loadResult> = {};
      for (const key of rotated) {
        const server = servers.find((candidate) => candidate.key === key)!;
        const logBefore = statSync(server.started.log).size;
        const result = await h2load({
          url: `http://${server.address}${CatalogServiceService.getProduct.path}`,
          bodyFile: body,
          inFlight,
          seconds: SECONDS,
          warmUpSeconds: 1,
          core: LOAD_CORE,
          logFile: join(work, "h2load.tsv"),
        });
        const written = statSync(server.started.log).size - logBefore;
        logBytes[key] = { bytes: (logBytes[key]?.bytes ?? 0) + written, requests: (logBytes[key]?.requests ?? 0) + result.succeeded };
        thisRound[key] = result;
        ((results[key] ??= {})[inFlight] ??= []).push(result);
        console.error(`hop round ${round_ + 1}/${ROUNDS} ${key} @${inFlight}: ${round(result.requestsPerSecond, 0)} req/s p50 ${result.p50Us} µs p99 ${result.p99Us} µs`);
        await sleep(200);
      }
      for (const key of order) {
        const entry = ((ratios[key] ??= {})[inFlight] ??= { rps: [], p50: [] });
        entry.rps.push(thisRound[key]!.requestsPerSecond / thisRound.bare!.requestsPerSecond);
        entry.p50.push(thisRound[key]!.p50Us / thisRound.bare!.p50Us);
      }
    }
  }

  const rows = servers
    .sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key))
    .map((server) => ({
      key: server.key,
      label: server.label,
      logBytesPerRequest: round((logBytes[server.key]?.bytes ?? 0) / Math.max(1, logBytes[server.key]?.requests ?? 1), 0),
      ...Object.fromEntries(
        IN_FLIGHT.map((inFlight) => {
          const runs = results[server.key]![inFlight]!;
          return [
            `inFlight${inFlight}`,
            {
              requestsPerSecond: round(median(runs.map((run) => run.requestsPerSecond)), 0),
              p50Us: median(runs.map((run) => run.p50Us)),
              p99Us: median(runs.map((run) => run.p99Us)),
              ratioToBare: round(median(ratios[server.key]![inFlight]!.rps), 3),
              failed: runs.reduce((sum, run) => sum + run.failed, 0),
              rounds: runs.map((run) => round(run.requestsPerSecond, 0)),
            },
          ];
        }),
      ),
    }));
  writeFileSync(process.argv[2] ?? join(work, "hop.json"), JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, tls: false, rows }, null, 2));
} finally {
  await Promise.all(servers.map((server) => stopProcess(server.started, 5000)));
  rmSync(work, { recursive: true, force: true });
}
