/**
 * The whole shop as real processes for end-to-end tests: a throwaway
 * nats-server with JetStream, every service from its compiled dist/main.js
 * (its environment from scripts/launch.ts) with a database of its own on the
 * test cluster, and the HTTP gateway. Every port is picked by the OS
 * (port 0) and read back from the process's "listening" log line, so a mesh
 * never collides with `make up` on the default ports or with another mesh.
 */
import { type EventType } from "@bazaar/runtime/events/event-type";
import { type ServiceName } from "@bazaar/shop/ports";
import { freshDatabase } from "@bazaar/runtime/testing";
import { testCertificates } from "../../lib/test/support/certs.js";
import { startTestNats } from "../../lib/test/support/nats.js";
import { gatewayEnvironment, type Placement, type ProcessName, serviceEnvironment, startLayers } from "../../scripts/launch.js";
import { SHOP_MODULES } from "../../scripts/shop.js";
import { MeshProcess, requireBuilt } from "./service-process.js";

export type ComponentName = ProcessName;

/**
 * Who consumes what, as each service's module declares it. The mesh is ready
 * only once every one of these durable consumers exists, so a test that
 * publishes (or dead-letters) an event knows who will see it.
 */
export const CONSUMERS: Readonly<Partial<Record<ServiceName, readonly EventType<unknown>[]>>> = Object.fromEntries(
  SHOP_MODULES.filter((module) => module.consumes !== undefined).map((module) => [module.name, module.consumes!.map((handler) => handler.type)]),
);

/** What differs here from every other mesh, per service. */
const EXTRA_ENV: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {
  // The budget of the whole saga; generous, because two cores are shared by everything here.
  orders: { PLACE_ORDER_TIMEOUT_MS: "15000" },
};

export interface Mesh {
  natsUrl: string;
  /** Certificates of every identity (TLS_DIR): the mesh runs mutual TLS, as `make up` does. */
  tlsDir: string;
  /** host:port of each gRPC service. */
  grpc: Record<ServiceName, string>;
  /** http://127.0.0.1:port of the gateway. */
  gatewayUrl: string;
  /** The last `count` log lines (and stderr) of every process, for a failed test's report. */
  logTails(count?: number): string;
  /** Every JSON log line a process has written so far. */
  logLines(name: ComponentName): ReadonlyArray<Record<string, unknown>>;
  /** SIGTERM everything (gateway, services, then NATS), SIGKILL what does not exit in time. */
  stop(): Promise<void>;
}

/** `extraEnv` goes to every process (e.g. OTEL_EXPORTER_OTLP_ENDPOINT). */
export async function startMesh(extraEnv: NodeJS.ProcessEnv = {}): Promise<Mesh> {
  requireBuilt([...SHOP_MODULES.map((module) => module.name), "gateway"]);
  const tlsDir = testCertificates();
  // deploy/nats/nats.conf, as `make up` and compose run it: mutual TLS, a user per service.
  const nats = await startTestNats({ config: "deploy/nats/nats.conf", certs: tlsDir });
  const processes = new Map<ComponentName, MeshProcess>();
  // If this worker dies without afterAll, take the children with it rather than leave them running.
  const killAll = () => processes.forEach((child) => child.process?.kill());
  process.once("exit", killAll);

  const grpc = {} as Record<ServiceName, string>;
  // Ports are the OS's (port 0), read back from each process's "listening" line: a service's callers start after it.
  const placement: Placement = { grpcAddress: (name) => grpc[name], natsUrl: nats.url, tlsDir, env: { SHUTDOWN_GRACE_MS: "5000", ...extraEnv } };
  const launch = (name: ComponentName, env: NodeJS.ProcessEnv) => {
    const child = new MeshProcess(name, env);
    processes.set(name, child);
    return child;
  };

  const logTails = (count = 25) => [...processes].map(([name, child]) => `--- ${name} (last ${count} lines) ---\n${child.tail(count)}`).join("\n");

  const stop = async () => {
    // The gateway first (its requests still reach the services), then the services together, then NATS.
    await processes.get("gateway")?.stop();
    await Promise.all([...processes].filter(([name]) => name !== "gateway").map(([, child]) => child.stop()));
    await nats.stop();
    process.off("exit", killAll);
  };

  try {
    for (const layer of startLayers()) {
      await Promise.all(
        layer.map(async (module) => {
          // Each service its own database on the test run's cluster, as each has its own in a deployment.
          const own = { grpc: "127.0.0.1:0", admin: "127.0.0.1:0", databaseUrl: await freshDatabase(`mesh_${module.name}`) };
          const child = launch(module.name, { ...serviceEnvironment(module, placement, own), ...EXTRA_ENV[module.name] });
          // Events start in the background after "serving": consumers are awaited below, all together.
          await child.start({ consumers: false });
          grpc[module.name] = child.address;
        }),
      );
    }

    // The gateway last, so its first requests find every service SERVING.
    const gateway = launch("gateway", { ...gatewayEnvironment(placement, "127.0.0.1:0"), REQUEST_TIMEOUT_MS: "20000" });
    await gateway.start({ consumers: false });

    // Every durable consumer declared, so a test that publishes (or dead-letters) an event knows who will see it.
    await Promise.all([...processes.values()].map((child) => child.consumersDeclared()));

    const logLines = (name: ComponentName) => processes.get(name)?.lines() ?? [];
    return { natsUrl: nats.url, tlsDir, grpc, gatewayUrl: `http://127.0.0.1:${gateway.httpPort}`, logTails, logLines, stop };
  } catch (error) {
    const tails = logTails(40);
    await stop();
    throw new Error(`the mesh did not start: ${(error as Error).message}\n${tails}`);
  }
}
