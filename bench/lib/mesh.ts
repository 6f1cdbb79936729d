/**
 * The whole shop for the benchmarks, started the way `make up` starts it: one
 * PostgreSQL cluster (lib/postgres.ts) with a database and a login per service
 * (ensureOwnDatabase, the development passwords), nats-server with
 * deploy/nats/nats.conf, the five services together from their compiled
 * dist/main.js (each with the DATABASE_URL of its own login, LOG_LEVEL=info),
 * then the gateway; mutual TLS on every gRPC hop and to NATS (TLS_MODE=mtls).
 * But on free ports, with certificates and a directory of our own, so it never
 * collides with `make up` or a test. The inventory can be given deep stock
 * before it starts, so a load test measures capacity, never "out of stock".
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "@bazaar/runtime/db/database";
import { migrate } from "@bazaar/runtime/db/migrate";
import { ensureOwnDatabase } from "@bazaar/runtime/db/provision";
import { SERVICE_NODE_FLAGS } from "@bazaar/runtime/process";
import { type ServiceName } from "@bazaar/shop/ports";
import { devDatabasePassword } from "../../scripts/dev-env.js";
import { entryOf, gatewayEnvironment, type Placement, type ProcessName, serviceEnvironment } from "../../scripts/launch.js";
import { SHOP_MODULES } from "../../scripts/shop.js";
import { startNats } from "./nats.js";
import { type BenchCluster, startBenchCluster } from "./postgres.js";
import { freePort, httpOk, ROOT, type Started, startProcess, stopProcess, waitFor } from "./process.js";
import { benchCertificates } from "./tls.js";

export const SERVICES = SHOP_MODULES.map((module) => module.name);
export type MeshService = ServiceName;

export interface BenchMesh {
  grpc: Record<MeshService, string>;
  gatewayUrl: string;
  /** The certificates every process uses (ca.pem, <identity>.pem, <identity>-key.pem): a client of the mesh needs one. */
  tlsDir: string;
  /** Every Node process and nats-server by name (nats, the five services, gateway), for RSS and CPU readings. */
  processes: Map<string, Started>;
  /** The PostgreSQL cluster: its postmaster, its processes' memory and CPU, its superuser URL. */
  cluster: BenchCluster;
  /** Milliseconds from the cluster's start (initdb on first use) to every component ready, `beforeServices` left out. */
  startMs: number;
  stop(): Promise<void>;
}

/**
 * Apply the inventory's migrations to its database at `url` ahead of the
 * service and give every product `units` available, so orders never run out
 * during a run. The service then finds its migrations applied and starts as
 * usual. Returns the product ids.
 */
export async function deepenStock(url: string, units: number): Promise<string[]> {
  const db = await openDatabase(url);
  try {
    await migrate(db, join(ROOT, "lib", "migrations"));
    await migrate(db, join(ROOT, "services", "inventory", "migrations"));
    await db.query("update stock set available = $1, reserved = 0", [units]);
    return (await db.query<{ product_id: string }>("select product_id from stock order by product_id")).map((row) => row.product_id);
  } finally {
    await db.close();
  }
}

export interface MeshOptions {
  /** Extra environment for every service and the gateway. */
  env?: NodeJS.ProcessEnv;
  /** Extra node flags for a service or the gateway, e.g. --cpu-prof (not allowed in NODE_OPTIONS). */
  nodeArgs?: (name: string) => string[];
  /** The Node binary the services and the gateway run on (default: this one), to compare Node versions in one run. */
  node?: string;
  /** The node flags every service and the gateway start with (default: the ones `make up` gives them). */
  nodeFlags?: readonly string[];
  /**
   * Work on the databases once they exist and before any service starts (e.g. deepenStock),
   * given each service's DATABASE_URL. Not part of `startMs`: `make up` does no such thing.
   */
  beforeServices?: (databaseUrl: (name: MeshService) => string) => Promise<void>;
}

export async function startMesh(dataRoot: string, logDir: string, options: MeshOptions = {}): Promise<BenchMesh> {
  const { env = {}, nodeArgs = () => [], node = process.execPath, nodeFlags = SERVICE_NODE_FLAGS, beforeServices } = options;
  mkdirSync(logDir, { recursive: true });
  const processes = new Map<string, Started>();
  let cluster: BenchCluster | undefined;
  // As `make down`: the gateway, the services, NATS, and the cluster last (the services close their connections while they drain).
  const stop = async () => {
    const gateway = processes.get("gateway");
    if (gateway) await stopProcess(gateway);
    await Promise.all(SERVICES.map((name) => processes.get(name)).map((started) => started && stopProcess(started)));
    const nats = processes.get("nats");
    if (nats) await stopProcess(nats);
    cluster?.stop();
  };
  // Issued before the clock starts (once per process), as `make up` issues certs/ before it starts anything.
  const tlsDir = benchCertificates();
  const began = performance.now();
  let notCounted = 0;
  try {
    cluster = await startBenchCluster(join(dataRoot, "postgres"), join(logDir, "postgres.log"));
    for (const name of SERVICES) await ensureOwnDatabase(cluster.superuserUrl(), name, devDatabasePassword(name));
    const running = cluster;
    const databaseUrl = (name: MeshService) => running.url(name, name, devDatabasePassword(name));
    if (beforeServices) {
      const hookBegan = performance.now();
      await beforeServices(databaseUrl);
      notCounted = performance.now() - hookBegan;
    }

    const nats = await startNats({ certs: tlsDir, store: join(dataRoot, "nats"), log: join(logDir, "nats.log") });
    processes.set("nats", nats.started);

    const ports = Object.fromEntries(
      await Promise.all(SERVICES.map(async (name) => [name, { grpc: await freePort(), admin: await freePort() }] as const)),
    ) as Record<MeshService, { grpc: number; admin: number }>;
    const grpc = Object.fromEntries(SERVICES.map((name) => [name, `127.0.0.1:${ports[name].grpc}`])) as Record<MeshService, string>;
    // Everything else as every launcher of the shop gives it (scripts/launch.ts); `env` last.
    const placement: Placement = { grpcAddress: (name) => grpc[name], natsUrl: nats.url, tlsDir, env };
    const argsOf = (name: ProcessName) => [...nodeFlags, ...nodeArgs(name), entryOf(name)];
    for (const module of SHOP_MODULES) {
      const { name } = module;
      const own = { grpc: grpc[name], admin: `127.0.0.1:${ports[name].admin}`, databaseUrl: databaseUrl(name) };
      processes.set(name, startProcess(name, node, argsOf(name), serviceEnvironment(module, placement, own), join(logDir, `${name}.log`)));
    }
    await Promise.all(SERVICES.map((name) => waitFor(processes.get(name)!, () => httpOk(`http://127.0.0.1:${ports[name].admin}/readyz`))));

    const httpPort = await freePort();
    // Its token key is deploy/dev.env's, the one bench/loadgen-worker.ts signs its customers' tokens with.
    const gateway = startProcess("gateway", node, argsOf("gateway"), gatewayEnvironment(placement, `127.0.0.1:${httpPort}`), join(logDir, "gateway.log"));
    processes.set("gateway", gateway);
    const gatewayUrl = `http://127.0.0.1:${httpPort}`;
    await waitFor(gateway, () => httpOk(`${gatewayUrl}/healthz`));
    return { grpc, gatewayUrl, tlsDir, processes, cluster: running, startMs: performance.now() - began - notCounted, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
