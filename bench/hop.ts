/**
 * Measurement 1, hop overhead: CatalogService.GetProduct served by a bare
 * grpc-js server, by the runtime's full server stack with the answer in memory
 * (logging, and logs off), and by the real catalog (its store on PostgreSQL
 * behind its product cache). Servers run on core 0, the load generator on
 * core 1. Each server, bare grpc-js too, runs with the services' Node flags and
 * logs to stdout read by another process, as deployed, and is loaded once
 * before the rounds, uncounted. Rounds are interleaved (the server order rotates) so
 * drift on a shared machine hits every server alike, and each round's figures
 * are divided by the bare server's from the same round. Two series, never compared with each other:
 * - plaintext, loaded by h2load with a prepared gRPC body: the runtime and the
 *   catalog run with TLS_MODE=insecure, because h2load cannot present the
 *   client certificate the mesh's servers require;
 * - mutual TLS as deployed (the catalog's certificate, authorization on every
 *   call), loaded by a Node stand-in for h2load (bench/h2load-node-worker.ts)
 *   presenting the gateway's certificate, against a bare grpc-js server with the
 *   same TLS credentials; plus the plaintext bare server under the same
 *   generator, which shows what TLS itself costs.
 * The catalog and the runtime stack open a database before they serve: each
 * gets its own on one throwaway cluster (lib/test/support/postgres.ts), which
 * is not pinned and which GetProduct reaches only when the cache misses.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/hop.ts <out.json>
 * Env: BENCH_HOP_ROUNDS (5: with 3, a run on this shared machine swung 2–3× between rounds), BENCH_HOP_SECONDS (3), BENCH_PROFILE_DIR (write --cpu-prof of the servers there)
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CatalogServiceService, GetProductRequest, type GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { stopCluster } from "@bazaar/runtime/db/postgres-cluster";
import { SERVICE_NODE_FLAGS } from "@bazaar/runtime/process";
import { startTestPostgres, type TestPostgres } from "../lib/test/support/postgres.js";
import { h2load, type H2loadResult, type NodeH2load, startNodeH2load, writeBody } from "./lib/h2load.js";
import { insecureClient, mtlsClient, unary } from "./lib/grpc-call.js";
import { cpuSeconds, freePort, httpOk, onInterrupt, ROOT, type Started, startProcess, stopProcess, waitFor } from "./lib/process.js";
import { median, round } from "./lib/stats.js";
import { benchCertificates, certificateFiles } from "./lib/tls.js";

const ROUNDS = Number(process.env.BENCH_HOP_ROUNDS) || 5;
const SECONDS = Number(process.env.BENCH_HOP_SECONDS) || 3;
const IN_FLIGHT = [100, 1] as const;
const SERVER_CORE = 0;
const LOAD_CORE = 1;
const PRODUCT = "v60-dripper";
/** Who the mTLS load calls as: the gateway, which the policy allows to call GetProduct. */
const CALLER = "gateway";

interface Server {
  key: string;
  started: Started;
  address: string;
}

/** A row of a series: which server, under which name in the results, and what it measures. */
interface Entry {
  key: string;
  label: string;
  server: Server;
}

/** Servers loaded by one generator; every round's figures are divided by the baseline's (the first entry). */
interface Series {
  entries: Entry[];
  load(entry: Entry, inFlight: number): Promise<H2loadResult>;
}

const work = mkdtempSync(join(tmpdir(), "bazaar-bench-hop-"));
const certs = benchCertificates();
const profileArgs = (name: string) =>
  // One directory per server: tsx's loader thread writes a profile of its own next to the main thread's.
  process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${join(process.env.BENCH_PROFILE_DIR, name)}`] : [];
const servers: Server[] = [];
let generator: NodeH2load | undefined;
let postgres: TestPostgres | undefined;

/** A new database for the server `key` on the throwaway cluster: its DATABASE_URL. */
async function databaseFor(key: string): Promise<string> {
  if (!postgres) {
    const started = (postgres = await startTestPostgres());
    // pg_ctl detaches the server from us: a Ctrl-C would otherwise leave it running.
    onInterrupt(() => stopCluster(started.dataDir));
  }
  const name = key.replaceAll("-", "_");
  await postgres.createDatabase(name);
  return postgres.url(name);
}

/** Start a server pinned to the server core and wait until GetProduct answers (over mTLS as the caller when `tls`). */
async function startServer(key: string, args: string[], env: NodeJS.ProcessEnv, port: number, tls = false): Promise<Server> {
  // As deployed: the services' Node flags (bare grpc-js too, so the rows differ only in their stack),
  // and stdout read by another process, as a container runtime reads it.
  const nodeArgs = [...SERVICE_NODE_FLAGS, ...profileArgs(key), ...args];
  const started = startProcess(key, process.execPath, nodeArgs, env, join(work, `${key}.log`), SERVER_CORE, "pipe");
  const address = `127.0.0.1:${port}`;
  servers.push({ key, started, address });
  const client = tls ? mtlsClient(address, certs, CALLER, "catalog") : insecureClient(address);
  try {
    await waitFor(started, async () => {
      const answer = await unary(client, CatalogServiceService.getProduct, { id: PRODUCT }, 1000);
      return answer.product?.id === PRODUCT;
    });
  } finally {
    client.close();
  }
  return servers.at(-1)!;
}

/** The real catalog (compiled, its own database, LOG_LEVEL=info), ready once its admin port says so. */
async function startCatalog(key: string, tlsMode: "insecure" | "mtls"): Promise<Server> {
  const port = await freePort();
  const adminPort = await freePort();
  const env = { GRPC_ADDR: `127.0.0.1:${port}`, ADMIN_ADDR: `127.0.0.1:${adminPort}`, DATABASE_URL: await databaseFor(key), LOG_LEVEL: "info", TLS_MODE: tlsMode, TLS_DIR: certs };
  const server = await startServer(key, [join(ROOT, "services", "catalog", "dist", "main.js")], env, port, tlsMode === "mtls");
  await waitFor(server.started, () => httpOk(`http://127.0.0.1:${adminPort}/readyz`));
  return server;
}

/** Interleaved rounds of one series: per entry and concurrency, the median figures and the median ratio to the baseline. */
async function measure(name: string, series: Series) {
  const keys = series.entries.map((entry) => entry.key);
  const results: Record<string, Record<number, H2loadResult[]>> = {};
  const ratios: Record<string, Record<number, number[]>> = {};
  const cpuRatios: Record<string, Record<number, number[]>> = {};
  const logBytes: Record<string, { bytes: number; requests: number }> = {};
  // A load per server before the rounds, not counted: the runtime's servers ran their first round up
  // to a third slower than their later ones (more code to compile than bare grpc-js's; bench/analysis.md).
  for (const entry of series.entries) {
    const result = await series.load(entry, IN_FLIGHT[0]);
    console.error(`hop ${name} warm-up ${entry.key} @${IN_FLIGHT[0]}: ${round(result.requestsPerSecond, 0)} req/s`);
    await sleep(200);
  }
  for (let round_ = 0; round_ < ROUNDS; round_ += 1) {
    for (const inFlight of IN_FLIGHT) {
      const rotated = [...series.entries.slice(round_ % keys.length), ...series.entries.slice(0, round_ % keys.length)];
      const thisRound: Record<string, H2loadResult> = {};
      for (const entry of rotated) {
        const logBefore = statSync(entry.server.started.log).size;
        const result = await series.load(entry, inFlight);
        const written = statSync(entry.server.started.log).size - logBefore;
        logBytes[entry.key] = { bytes: (logBytes[entry.key]?.bytes ?? 0) + written, requests: (logBytes[entry.key]?.requests ?? 0) + result.succeeded };
        thisRound[entry.key] = result;
        ((results[entry.key] ??= {})[inFlight] ??= []).push(result);
        console.error(`hop ${name} round ${round_ + 1}/${ROUNDS} ${entry.key} @${inFlight}: ${round(result.requestsPerSecond, 0)} req/s p50 ${result.p50Us} µs p99 ${result.p99Us} µs`);
        await sleep(200);
      }
      const cpuPerCall = (result: H2loadResult) => (result.serverCpu ?? Number.NaN) / result.requestsPerSecond;
      for (const key of keys) {
        ((ratios[key] ??= {})[inFlight] ??= []).push(thisRound[key]!.requestsPerSecond / thisRound[keys[0]!]!.requestsPerSecond);
        // The baseline's CPU per call over this server's: steadier than rates on a shared machine.
        ((cpuRatios[key] ??= {})[inFlight] ??= []).push(cpuPerCall(thisRound[keys[0]!]!) / cpuPerCall(thisRound[key]!));
      }
    }
  }
  return series.entries.map((entry) => ({
    key: entry.key,
    label: entry.label,
    logBytesPerRequest: round((logBytes[entry.key]?.bytes ?? 0) / Math.max(1, logBytes[entry.key]?.requests ?? 1), 0),
    ...Object.fromEntries(
      IN_FLIGHT.map((inFlight) => {
        const runs = results[entry.key]![inFlight]!;
        return [
          `inFlight${inFlight}`,
          {
            requestsPerSecond: round(median(runs.map((run) => run.requestsPerSecond)), 0),
            p50Us: median(runs.map((run) => run.p50Us)),
            p99Us: median(runs.map((run) => run.p99Us)),
            ratioToBare: round(median(ratios[entry.key]![inFlight]!), 3),
            cpuRatioToBare: round(median(cpuRatios[entry.key]![inFlight]!), 3),
            failed: runs.reduce((sum, run) => sum + run.failed, 0),
            serverCpu: median(runs.map((run) => run.serverCpu ?? Number.NaN)),
            ...(runs[0]!.generatorCpu === undefined ? {} : { generatorCpu: median(runs.map((run) => run.generatorCpu!)) }),
            rounds: runs.map((run) => round(run.requestsPerSecond, 0)),
          },
        ];
      }),
    ),
  }));
}

try {
  // The real catalog first: its answer is the one the other servers give.
  const catalog = await startCatalog("catalog", "insecure");
  const client = insecureClient(catalog.address);
  const response: GetProductResponse = await unary(client, CatalogServiceService.getProduct, { id: PRODUCT }, 5000);
  client.close();
  const responseFile = join(work, "response.json");
  writeFileSync(responseFile, JSON.stringify(CatalogServiceService.getProduct.responseDeserialize(CatalogServiceService.getProduct.responseSerialize(response))));

  // Plain `node --import tsx` (no bazaar-source condition): workspace imports resolve to the compiled dist/.
  const tsx = ["--import", "tsx"];
  const bareServer = join(ROOT, "bench", "hop-bare-server.ts");
  const runtimeServer = join(ROOT, "bench", "hop-runtime-server.ts");
  const start = async (key: string, script: string, extra: string[], env: NodeJS.ProcessEnv, tls: boolean) => {
    const port = await freePort();
    const database = script === runtimeServer ? { DATABASE_URL: await databaseFor(key) } : {};
    return startServer(key, [...tsx, script, String(port), responseFile, ...extra], { ...env, ...database }, port, tls);
  };
  const insecure = { TLS_MODE: "insecure" };
  const mtls = { TLS_MODE: "mtls", TLS_DIR: certs };
  const bare = await start("bare", bareServer, [], {}, false);
  const runtime = await start("runtime", runtimeServer, [], { ...insecure, LOG_LEVEL: "info" }, false);
  const runtimeSilent = await start("runtime-silent", runtimeServer, [], { ...insecure, LOG_LEVEL: "silent" }, false);
  const bareMtls = await start("bare-mtls", bareServer, [certs], {}, true);
  const runtimeMtls = await start("runtime-mtls", runtimeServer, [], { ...mtls, LOG_LEVEL: "info" }, true);
  const catalogMtls = await startCatalog("catalog-mtls", "mtls");

  const body = join(work, "get-product.bin");
  writeBody(body, GetProductRequest.encode({ id: PRODUCT }).finish());
  const path = CatalogServiceService.getProduct.path;
  const common = { bodyFile: body, seconds: SECONDS, warmUpSeconds: 1, core: LOAD_CORE };
  const caller = certificateFiles(certs, CALLER);

  const rows = await measure("plaintext", {
    entries: [
      { key: "bare", label: "bare grpc-js (no middleware, plaintext)", server: bare },
      { key: "runtime", label: "runtime stack (TLS_MODE=insecure), answer from memory, logs to stdout, read by another process", server: runtime },
      { key: "runtime-silent", label: "runtime stack (TLS_MODE=insecure), answer from memory, LOG_LEVEL=silent", server: runtimeSilent },
      { key: "catalog", label: "real catalog (TLS_MODE=insecure; PostgreSQL behind its cache, logs to stdout, read by another process)", server: catalog },
    ],
    load: async (entry, inFlight) => {
      // h2load starts at once and loads through its warm-up too: the server's CPU over the whole run.
      const [cpuBefore, began] = [cpuSeconds(entry.server.started.pid), performance.now()];
      const result = await h2load({ ...common, url: `http://${entry.server.address}${path}`, inFlight, logFile: join(work, "h2load.tsv") });
      return { ...result, serverCpu: round((cpuSeconds(entry.server.started.pid) - cpuBefore) / ((performance.now() - began) / 1000), 2) };
    },
  });
  let negotiated: string | undefined;
  generator = startNodeH2load(LOAD_CORE);
  const tlsRows = await measure("mtls", {
    entries: [
      { key: "bare-mtls", label: "bare grpc-js, mutual TLS (no middleware)", server: bareMtls },
      { key: "runtime-mtls", label: "runtime stack, mutual TLS + authorization, answer from memory, logs to stdout, read by another process", server: runtimeMtls },
      { key: "catalog-mtls", label: "real catalog as deployed (mutual TLS + authorization, PostgreSQL behind its cache, logs to stdout, read by another process)", server: catalogMtls },
      { key: "bare-plaintext", label: "bare grpc-js, plaintext (the same generator without TLS)", server: bare },
    ],
    load: async (entry, inFlight) => {
      const tls = entry.server === bare ? undefined : caller;
      const url = `${tls ? "https" : "http"}://${entry.server.address}${path}`;
      const result = await generator!.load({ ...common, url, inFlight, tls, serverPid: entry.server.started.pid });
      negotiated ??= result.tls;
      return result;
    },
  });

  const report = {
    rounds: ROUNDS,
    nodeFlags: SERVICE_NODE_FLAGS,
    seconds: SECONDS,
    rows,
    tls: { generator: "bench/h2load-node-worker.ts, node:http2", caller: CALLER, negotiated, rows: tlsRows },
  };
  writeFileSync(process.argv[2] ?? join(work, "hop.json"), JSON.stringify(report, null, 2));
} finally {
  await generator?.stop();
  await Promise.all(servers.map((server) => stopProcess(server.started, 5000)));
  await postgres?.stop();
  rmSync(work, { recursive: true, force: true });
}
