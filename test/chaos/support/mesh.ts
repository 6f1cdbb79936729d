/**
 * The shop as real processes for chaos tests, started by the mesh's launcher
 * (scripts/launch.ts): the compiled services (services/<name>/dist/main.js)
 * and a real nats-server, each service on a port fixed
 * for the suite, so a process that is killed and started again is found at the
 * same address by everyone who calls it. Each service has a database of its own
 * on the test run's PostgreSQL cluster, which outlives a kill -9 or a restart of
 * the service.
 */
import { openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { freshDatabase } from "@bazaar/runtime/testing";
import { meshCertificates } from "../../support/certs.js";
import { startTestNats, type TestNats } from "../../support/nats.js";
import { freePort } from "../../../lib/test/support/process.js";
import { migrationsDir as inventoryMigrations } from "../../../services/inventory/src/store.js";
import { consumersOf, launchMesh } from "../../../scripts/launch.js";
import { type ServiceName, SERVICE_NAMES } from "../../../scripts/shop.js";
import { MeshProcess, requireBuilt } from "../../support/service-process.js";

/** The whole PlaceOrder saga's budget in the chaos mesh. */
export const PLACE_ORDER_TIMEOUT_MS = 8000;
/** Units of every product: chaos load must not run out of stock, or "rejected" would hide "lost". */
const CHAOS_STOCK = 100_000;

export interface ChaosMesh {
  /** deploy/nats/nats.conf: mutual TLS, a user per service. */
  nats: TestNats;
  /** Certificates of every identity: the services run mutual TLS, as deployed. */
  tlsDir: string;
  /** Each service on its fixed address: a scenario may kill it and start it again there. */
  services: Record<ServiceName, MeshProcess>;
  /** Each service's DATABASE_URL, for a scenario that stalls a database. */
  databases: Record<ServiceName, string>;
  /** The last log lines of every process, for a failed scenario's report. */
  tails(): string;
  stop(): Promise<void>;
}

/** What differs here from every other mesh, per service: short sweeps, so the audit can wait for them, and a slow card network. */
const CHAOS_ENV: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {
  payments: {
    // The card network moves the money 100 ms before its answer arrives: a window a kill -9 can hit.
    CARD_PROVIDER_LATENCY_MS: "200",
    // Charges a killed payments left PENDING are resolved within seconds.
    PENDING_CHARGE_LEASE_MS: "3000",
    PENDING_CHARGE_SWEEP_MS: "500",
  },
  orders: {
    PLACE_ORDER_TIMEOUT_MS: String(PLACE_ORDER_TIMEOUT_MS),
    // Orders a cut saga left PENDING are rejected (and given back) within seconds of being stalled.
    STALLED_ORDER_SWEEP_MS: "1000",
  },
};

export async function startChaosMesh(): Promise<ChaosMesh> {
  requireBuilt(SERVICE_NAMES);

  const databases = Object.fromEntries(await Promise.all(SERVICE_NAMES.map(async (name) => [name, await freshDatabase(`chaos_${name}`)] as const))) as Record<ServiceName, string>;
  await stockUp(databases.inventory);
  const tlsDir = meshCertificates();
  const nats = await startTestNats({ config: "deploy/nats/nats.conf", certs: tlsDir });
  const services = {} as Record<ServiceName, MeshProcess>;

  const killAll = () => Object.values(services).forEach((service) => service.process?.kill());
  // If the worker dies without afterAll, take the children with it.
  process.once("exit", killAll);
  const tails = () => Object.values(services).map((service) => `--- ${service.name} ---\n${service.tail()}`).join("\n");
  let stopServices = async (): Promise<void> => {
    await Promise.all(Object.values(services).map((service) => service.stop()));
  };
  const stop = async () => {
    await stopServices();
    await nats.stop();
    process.off("exit", killAll);
  };

  try {
    const launched = await launchMesh({
      placement: { natsUrl: nats.url, tlsDir, env: { SHUTDOWN_GRACE_MS: "5000" } },
      // A port fixed for the suite: a process killed and started again is found where it was.
      place: async (module) => ({ grpc: `127.0.0.1:${await freePort()}`, admin: "127.0.0.1:0", databaseUrl: databases[module.name as ServiceName] }),
      extraEnv: (name) => CHAOS_ENV[name as ServiceName],
      run: async (name, env, module) => {
        const service = new MeshProcess(name, env, consumersOf(module!));
        services[name as ServiceName] = service;
        // Consumers are awaited below, all together: events start in the background after "serving".
        await service.start({ consumers: false });
        return service;
      },
    });
    stopServices = launched.stop;
    await Promise.all(Object.values(services).map((service) => service.consumersDeclared()));
  } catch (error) {
    const report = tails();
    await stop();
    throw new Error(`the chaos mesh did not start: ${(error as Error).message}\n${report}`);
  }
  return { nats, tlsDir, services, databases, tails, stop };
}

/**
 * Inventory's database, migrated as the service migrates it, with plenty of
 * every product: prepared before inventory first starts, since the service has
 * no API to restock (and should not get one for a test).
 */
async function stockUp(databaseUrl: string): Promise<void> {
  const db = await openDatabase(databaseUrl);
  try {
    await migrateService(db, inventoryMigrations);
    await db.query("update stock set available = $1", [CHAOS_STOCK]);
  } finally {
    await db.close();
  }
}
