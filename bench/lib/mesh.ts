/**
 * The whole shop for the benchmarks, started the way `make up` starts it: one
 * PostgreSQL cluster (lib/postgres.ts) with a database and a login per service
 * (ensureOwnDatabase, the development passwords), nats-server with
 * deploy/nats/nats.conf, then the five services and the gateway at once from
 * their bundles (dist/main.bundle.js; each service with the DATABASE_URL of its
 * own login, LOG_LEVEL=info); mutual TLS on every gRPC hop and to NATS (TLS_MODE=mtls).
 * But on free ports, with certificates and a directory of our own, so it never
 * collides with `make up` or a test. The inventory can be given deep stock
 * before it starts, so a load test measures capacity, never "out of stock".
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { ensureOwnDatabase } from "@bazaar/runtime/db/provision";
import { SERVICE_NODE_FLAGS } from "@bazaar/runtime/process";
import { devDatabasePassword } from "../../scripts/dev-env.js";
import { entryOf, launchMesh } from "../../scripts/launch.js";
import { type ServiceName, SERVICE_NAMES, SHOP_EDGE } from "../../scripts/shop.js";
import { startNats } from "./nats.js";
import { type BenchCluster, startBenchCluster } from "./postgres.js";
import { freePort, httpOk, ROOT, type Started, startProcess, stopProcess, waitFor } from "./process.js";
import { benchCertificates } from "./tls.js";

export const SERVICES = SERVICE_NAMES;
export type MeshService = ServiceName;

export interface BenchMesh {
  grpc: Record<MeshService, string>;
  /** Each service's admin address (/metrics, /readyz). */
  admin: Record<MeshService, string>;
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
    await migrateService(db, join(ROOT, "services", "inventory", "migrations"));
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
  // As `make down`: the gateway, the services (the launcher's order), NATS, and the cluster last (the services close their connections while they drain).
  let stopServices = async (): Promise<void> => {
    await Promise.all([...processes].filter(([name]) => name !== "nats").map(([, started]) => stopProcess(started)));
  };
  const stop = async () => {
    await stopServices();
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

    const httpPort = await freePort();
    const gatewayUrl = `http://127.0.0.1:${httpPort}`;
    const admin: Record<string, string> = {};
    // Everything else as every launcher of the shop gives it (scripts/launch.ts); `env` last.
    const launched = await launchMesh({
      placement: { natsUrl: nats.url, tlsDir, env },
      place: async (module) => {
        const own = { grpc: `127.0.0.1:${await freePort()}`, admin: `127.0.0.1:${await freePort()}`, databaseUrl: databaseUrl(module.name as MeshService) };
        admin[module.name] = own.admin;
        return own;
      },
      // Its token key is deploy/dev.env's, the one bench/loadgen-worker.ts signs its customers' tokens with.
      edgeHttpAddress: `127.0.0.1:${httpPort}`,
      run: async (name, processEnv) => {
        const started = startProcess(name, node, [...nodeFlags, ...nodeArgs(name), entryOf(name)], processEnv, join(logDir, `${name}.log`));
        processes.set(name, started);
        const readyUrl = name === SHOP_EDGE.name ? `${gatewayUrl}/healthz` : `http://${admin[name]}/readyz`;
        await waitFor(started, () => httpOk(readyUrl));
        return { stop: () => stopProcess(started) };
      },
    });
    stopServices = launched.stop;
    const grpc = launched.grpc as Record<MeshService, string>;
    return { grpc, admin: admin as Record<MeshService, string>, gatewayUrl, tlsDir, processes, cluster: running, startMs: performance.now() - began - notCounted, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
