/**
 * The whole shop as real processes for end-to-end tests, started by the mesh's
 * launcher (scripts/launch.ts): a throwaway nats-server with JetStream, every
 * service from its compiled dist/main.js with a database of its own on the
 * test cluster, and the HTTP gateway. Every port is picked by the OS (port 0)
 * and read back from the process's "listening" log line, so a mesh never
 * collides with `make up` on the default ports or with another mesh.
 */
import { type EventType } from "@bazaar/runtime/events/event-type";
import { freshDatabase } from "@bazaar/runtime/testing";
import { freePort } from "../../lib/test/support/process.js";
import { meshCertificates } from "./certs.js";
import { startTestNats } from "./nats.js";
import { consumersOf, launchMesh } from "../../scripts/launch.js";
import { type ServiceName, SERVICE_NAMES, SHOP_CONSOLE, SHOP_EDGE, SHOP_MODULES } from "../../scripts/shop.js";
import { MeshProcess, requireBuilt } from "./service-process.js";

export type ComponentName = ServiceName | typeof SHOP_EDGE.name | typeof SHOP_CONSOLE.name;

/**
 * Who consumes what, as each service's module declares it. The mesh is ready
 * only once every one of these durable consumers exists, so a test that
 * publishes (or dead-letters) an event knows who will see it.
 */
export const CONSUMERS: Readonly<Partial<Record<ServiceName, readonly EventType<unknown>[]>>> = Object.fromEntries(
  SHOP_MODULES.filter((module) => module.consumes !== undefined).map((module) => [module.name, module.consumes!.map((handler) => handler.type)]),
);

/** What differs here from every other mesh, per process. */
const EXTRA_ENV: Partial<Record<ComponentName, NodeJS.ProcessEnv>> = {
  // The budget of the whole saga; generous, because two cores are shared by everything here.
  orders: { PLACE_ORDER_TIMEOUT_MS: "15000" },
  gateway: { REQUEST_TIMEOUT_MS: "20000" },
};

export interface Mesh {
  natsUrl: string;
  /** Certificates of every identity (TLS_DIR): the mesh runs mutual TLS, as `make up` does. */
  tlsDir: string;
  /** host:port of each gRPC service. */
  grpc: Record<ServiceName, string>;
  /** http://127.0.0.1:port of the gateway. */
  gatewayUrl: string;
  /** http://127.0.0.1:port of the development console, when asked for (MeshOptions.console). */
  consoleUrl?: string;
  /** The process of one component: to stop it and start it again (MeshProcess). */
  process(name: ComponentName): MeshProcess;
  /** The last `count` log lines (and stderr) of every process, for a failed test's report. */
  logTails(count?: number): string;
  /** Every JSON log line a process has written so far. */
  logLines(name: ComponentName): ReadonlyArray<Record<string, unknown>>;
  /** SIGTERM everything (gateway, services, then NATS), SIGKILL what does not exit in time. */
  stop(): Promise<void>;
}

export interface MeshOptions {
  /** Start the development console too, last, as `make up` does. */
  console?: boolean;
}

/** `extraEnv` goes to every process (e.g. OTEL_EXPORTER_OTLP_ENDPOINT, BAZAAR_FAULTS). */
export async function startMesh(extraEnv: NodeJS.ProcessEnv = {}, options: MeshOptions = {}): Promise<Mesh> {
  requireBuilt([...SERVICE_NAMES, SHOP_EDGE.name, ...(options.console ? [SHOP_CONSOLE.name] : [])]);
  const tlsDir = meshCertificates();
  // deploy/nats/nats.conf, as `make up` and compose run it: mutual TLS, a user per service.
  const nats = await startTestNats({ config: "deploy/nats/nats.conf", certs: tlsDir });
  const processes = new Map<string, MeshProcess>();
  // If this worker dies without afterAll, take the children with it rather than leave them running.
  const killAll = () => processes.forEach((child) => child.process?.kill());
  process.once("exit", killAll);
  const logTails = (count = 25) => [...processes].map(([name, child]) => `--- ${name} (last ${count} lines) ---\n${child.tail(count)}`).join("\n");

  let stopProcesses = async () => {
    await Promise.all([...processes.values()].map((child) => child.stop()));
  };
  const stop = async () => {
    await stopProcesses();
    await nats.stop();
    process.off("exit", killAll);
  };

  const address = async () => `127.0.0.1:${options.console ? await freePort() : 0}`;
  try {
    const mesh = await launchMesh({
      placement: { natsUrl: nats.url, tlsDir, env: { SHUTDOWN_GRACE_MS: "5000", ...extraEnv } },
      // Each service its own database on the test run's cluster, as each has its own in a deployment.
      // With the console, fixed free ports: a service stopped and started again comes back where the console looks.
      place: async (module) => ({ grpc: await address(), admin: await address(), databaseUrl: await freshDatabase(`mesh_${module.name}`) }),
      edgeHttpAddress: "127.0.0.1:0",
      ...(options.console ? { console: { httpAddress: "127.0.0.1:0", natsMonitorUrl: nats.monitorUrl } } : {}),
      extraEnv: (name) => EXTRA_ENV[name as ComponentName],
      run: async (name, env, module) => {
        const child = new MeshProcess(name, env, module ? consumersOf(module) : []);
        processes.set(name, child);
        // Consumers are awaited below, all together: events start in the background after "serving".
        await child.start({ consumers: false });
        const admin = child.adminPort || child.httpPort;
        return { grpcAddress: child.address || undefined, adminAddress: admin ? `127.0.0.1:${admin}` : undefined, stop: () => child.stop() };
      },
    });
    stopProcesses = mesh.stop;
    // Every durable consumer declared, so a test that publishes (or dead-letters) an event knows who will see it.
    await Promise.all([...processes.values()].map((child) => child.consumersDeclared()));

    const logLines = (name: ComponentName) => processes.get(name)?.lines() ?? [];
    const gatewayUrl = `http://127.0.0.1:${processes.get(SHOP_EDGE.name)!.httpPort}`;
    const consoleProcess = processes.get(SHOP_CONSOLE.name);
    const consoleUrl = consoleProcess ? `http://127.0.0.1:${consoleProcess.httpPort}` : undefined;
    const processOf = (name: ComponentName) => processes.get(name) ?? (() => { throw new Error(`no ${name} in this mesh`); })();
    return { natsUrl: nats.url, tlsDir, grpc: mesh.grpc as Record<ServiceName, string>, gatewayUrl, ...(consoleUrl ? { consoleUrl } : {}), process: processOf, logTails, logLines, stop };
  } catch (error) {
    const tails = logTails(40);
    await stop();
    throw new Error(`the mesh did not start: ${(error as Error).message}\n${tails}`);
  }
}
