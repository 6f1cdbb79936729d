/**
 * The whole shop for the benchmarks, started the way `make up` starts it
 * (nats-server with deploy/nats/nats.conf, then the five services together,
 * then the gateway; services from their compiled dist/main.js with embedded
 * PGlite in a data directory, or each on its own database of a PostgreSQL
 * server (DATABASE_URL), and LOG_LEVEL=info; mutual TLS on every gRPC hop
 * and to NATS, TLS_MODE=mtls) but on free ports, with certificates and a
 * directory of our own, so it never collides with `make up` or a test. The
 * inventory can be given deep stock first, so a load test measures capacity,
 * never "out of stock".
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "@bazaar/runtime/db/database";
import { migrate } from "@bazaar/runtime/db/migrate";
import { SERVICE_NODE_FLAGS } from "@bazaar/runtime/process";
import { devAuthSecret } from "../../scripts/dev-env.js";
import { startNats } from "./nats.js";
import { freePort, httpOk, ROOT, type Started, startProcess, stopProcess, waitFor } from "./process.js";
import { benchCertificates } from "./tls.js";

export const SERVICES = ["catalog", "inventory", "orders", "payments", "notifications"] as const;
export type MeshService = (typeof SERVICES)[number];

export interface BenchMesh {
  grpc: Record<MeshService, string>;
  gatewayUrl: string;
  /** The certificates every process uses (ca.pem, <identity>.pem, <identity>-key.pem): a client of the mesh needs one. */
  tlsDir: string;
  /** Every process by name (nats, the five services, gateway), for RSS and CPU readings. */
  processes: Map<string, Started>;
  /** Milliseconds from the first spawn to every component ready. */
  startMs: number;
  stop(): Promise<void>;
}

/**
 * Apply the inventory's migrations to its database (the data directory, or
 * `url` on a PostgreSQL server) ahead of the service and give every product
 * `units` available, so orders never run out during a run. The service then
 * finds its migrations applied and starts as usual. Returns the product ids.
 */
export async function deepenStock(dataDir: string, units: number, url?: string): Promise<string[]> {
  mkdirSync(dataDir, { recursive: true });
  const db = await openDatabase({ dataDir, url });
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
  /** A service's DATABASE_URL (postgres://...); without it, embedded PGlite in its data directory. */
  databaseUrl?: (name: MeshService) => string;
  /** The Node binary the services and the gateway run on (default: this one), to compare Node versions in one run. */
  node?: string;
  /** The node flags every service and the gateway start with (default: the ones `make up` gives them). */
  nodeFlags?: readonly string[];
}

export async function startMesh(dataRoot: string, logDir: string, options: MeshOptions = {}): Promise<BenchMesh> {
  const { env = {}, nodeArgs = () => [], databaseUrl, node = process.execPath, nodeFlags = SERVICE_NODE_FLAGS } = options;
  mkdirSync(logDir, { recursive: true });
  const processes = new Map<string, Started>();
  const stop = async () => {
    const gateway = processes.get("gateway");
    if (gateway) await stopProcess(gateway);
    await Promise.all(SERVICES.map((name) => processes.get(name)).map((started) => started && stopProcess(started)));
    const nats = processes.get("nats");
    if (nats) await stopProcess(nats);
  };
  // Issued before the clock starts (once per process), as `make up` issues certs/ before it starts anything.
  const tlsDir = benchCertificates();
  const tls = { TLS_MODE: "mtls", TLS_DIR: tlsDir };
  const began = performance.now();
  try {
    const nats = await startNats({ certs: tlsDir, store: join(dataRoot, "nats"), log: join(logDir, "nats.log") });
    processes.set("nats", nats.started);

    const ports = Object.fromEntries(
      await Promise.all(SERVICES.map(async (name) => [name, { grpc: await freePort(), admin: await freePort() }] as const)),
    ) as Record<MeshService, { grpc: number; admin: number }>;
    const grpc = Object.fromEntries(SERVICES.map((name) => [name, `127.0.0.1:${ports[name].grpc}`])) as Record<MeshService, string>;
    for (const name of SERVICES) {
      const started = startProcess(
        name,
        node,
        [...nodeFlags, ...nodeArgs(name), join(ROOT, "services", name, "dist", "main.js")],
        {
          GRPC_ADDR: grpc[name],
          ADMIN_ADDR: `127.0.0.1:${ports[name].admin}`,
          DATA_DIR: join(dataRoot, name),
          NATS_URL: nats.url,
          LOG_LEVEL: "info",
          ...tls,
          CATALOG_ADDR: grpc.catalog,
          INVENTORY_ADDR: grpc.inventory,
          PAYMENTS_ADDR: grpc.payments,
          ...(databaseUrl ? { DATABASE_URL: databaseUrl(name) } : {}),
          ...env,
        },
        join(logDir, `${name}.log`),
      );
      processes.set(name, started);
    }
    await Promise.all(SERVICES.map((name) => waitFor(processes.get(name)!, () => httpOk(`http://127.0.0.1:${ports[name].admin}/readyz`))));

    const httpPort = await freePort();
    const gateway = startProcess(
      "gateway",
      node,
      [...nodeFlags, ...nodeArgs("gateway"), join(ROOT, "services", "gateway", "dist", "main.js")],
      {
        HTTP_ADDR: `127.0.0.1:${httpPort}`,
        CATALOG_ADDR: grpc.catalog,
        ORDERS_ADDR: grpc.orders,
        NOTIFICATIONS_ADDR: grpc.notifications,
        LOG_LEVEL: "info",
        // The key bench/loadgen-worker.ts signs its customers' tokens with.
        AUTH_JWT_SECRET: devAuthSecret(),
        ...tls,
        ...env,
      },
      join(logDir, "gateway.log"),
    );
    processes.set("gateway", gateway);
    const gatewayUrl = `http://127.0.0.1:${httpPort}`;
    await waitFor(gateway, () => httpOk(`${gatewayUrl}/healthz`));
    return { grpc, gatewayUrl, tlsDir, processes, startMs: performance.now() - began, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
