/**
 * The one launcher of the shop's mesh, used by `make up`, the test meshes and
 * the benchmarks: it starts the services of the modules it is given (the
 * shop's, scripts/shop.ts, unless told otherwise) in layers, each after every
 * service it calls, then the HTTP edge, each with the environment its module
 * implies; it stops them the other way round. A launcher chooses only what
 * differs: where each process listens, the databases, NATS, the certificates,
 * extra variables and flags, and how a process is run (detached with a pid
 * file, or a child whose log lines a test reads).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ServicePorts } from "@bazaar/runtime/module";
import { SERVICE_NODE_FLAGS } from "@bazaar/runtime/process";
import { devAuthSecret } from "./dev-env.js";
import { SHOP_CONSOLE, SHOP_EDGE, SHOP_MODULES } from "./shop.js";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");

/** What the launcher reads of a service's module (services/<name>/src/module.ts, the shop's or any other). */
export interface LaunchedModule {
  name: string;
  ports: ServicePorts;
  calls?: Readonly<Record<string, { address: string }>>;
  consumes?: ReadonlyArray<{ type: { subject: string } }>;
}

/** What a service or the gateway runs: its compiled entry bundled in one file (make build; scripts/bundle.ts). */
export const entryOf = (name: string) => join(ROOT, "services", name, "dist", "main.bundle.js");

/** The node arguments a service or the gateway runs with, as its container does (Dockerfile CMD). */
export const nodeArgsOf = (name: string, flags: readonly string[] = SERVICE_NODE_FLAGS) => [...flags, entryOf(name)];

/** What every process of one mesh shares. */
export interface Placement {
  natsUrl: string;
  /** The certificates of every identity (ca.pem, <name>.pem, <name>-key.pem). */
  tlsDir: string;
  /** To every process, after the mesh's own variables (LOG_LEVEL, OTEL_*, ...). */
  env?: NodeJS.ProcessEnv;
}

/** Where one service listens (port 0 allowed) and its own database. */
export interface OwnPlace {
  grpc: string;
  admin: string;
  databaseUrl: string;
}

/** The addresses of the services a process calls, in the variables it reads them from. */
function calledAddresses(calls: Readonly<Record<string, { address: string }>>, grpcAddress: (name: string) => string): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(calls).map(([name, call]) => [call.address, grpcAddress(name)]));
}

/**
 * A service's environment: where it listens, its own database, NATS, mutual
 * TLS with the mesh's certificates, and the address of each service its module
 * calls. BAZAAR_DEV_MODE is set: every launcher here runs a development mesh.
 */
function serviceEnvironment(module: LaunchedModule, placement: Placement, own: OwnPlace, grpcAddress: (name: string) => string): NodeJS.ProcessEnv {
  return {
    GRPC_ADDR: own.grpc,
    ADMIN_ADDR: own.admin,
    DATABASE_URL: own.databaseUrl,
    NATS_URL: placement.natsUrl,
    TLS_MODE: "mtls",
    TLS_DIR: placement.tlsDir,
    LOG_LEVEL: "info",
    BAZAAR_DEV_MODE: "1",
    ...calledAddresses(module.calls ?? {}, grpcAddress),
    ...placement.env,
  };
}

/**
 * What both edges (the gateway and the console) run with: mutual TLS with the
 * mesh's certificates, and deploy/dev.env's token key (the environment's, if
 * set; `npm run -s token` signs with the same), a development-only setting
 * allowed on purpose here.
 */
function edgeEnvironment(placement: Placement): NodeJS.ProcessEnv {
  return { TLS_MODE: "mtls", TLS_DIR: placement.tlsDir, LOG_LEVEL: "info", AUTH_JWT_SECRET: devAuthSecret(), BAZAAR_DEV_MODE: "1" };
}

/** The gateway's environment: where it listens for HTTP, the services behind it, and the token key it checks customers' tokens with. */
function gatewayEnvironment(placement: Placement, httpAddress: string, grpcAddress: (name: string) => string): NodeJS.ProcessEnv {
  return {
    HTTP_ADDR: httpAddress,
    ...edgeEnvironment(placement),
    ...calledAddresses(SHOP_EDGE.calls, grpcAddress),
    ...placement.env,
  };
}

/** Where the development console finds what it shows: NATS's monitoring port and the database, beyond the mesh's own processes. */
export interface ConsolePlace {
  httpAddress: string;
  natsMonitorUrl: string;
  /** host:port of PostgreSQL, for its node on the map. */
  databaseAddr?: string;
}

/**
 * The console's environment: where it listens, the gateway it calls as a
 * browser would, the admin port of every process it watches (the gateway's is
 * its HTTP port), NATS, and the token key it signs its demo customers' tokens with.
 */
function consoleEnvironment(placement: Placement, place: ConsolePlace, gatewayAddress: string, admin: Record<string, string>, grpcAddress: (name: string) => string): NodeJS.ProcessEnv {
  return {
    HTTP_ADDR: place.httpAddress,
    GATEWAY_URL: `http://${gatewayAddress}`,
    MESH_ADMIN_ADDRS: Object.entries(admin).map(([name, address]) => `${name}=${address}`).join(","),
    NATS_URL: placement.natsUrl,
    NATS_MONITOR_URL: place.natsMonitorUrl,
    ...(place.databaseAddr ? { DATABASE_ADDR: place.databaseAddr } : {}),
    ...edgeEnvironment(placement),
    ...calledAddresses(SHOP_CONSOLE.calls, grpcAddress),
    ...placement.env,
  };
}

/**
 * The modules in layers, each after every module it calls: the order to start
 * them in where a process learns its address only once it serves (port 0), and
 * the other way round, the order to stop them in (a caller drains while its
 * callees still answer).
 */
function startLayers<M extends LaunchedModule>(modules: readonly M[]): M[][] {
  const layers: M[][] = [];
  const placed = new Set<string>();
  let remaining = [...modules];
  while (remaining.length > 0) {
    const layer = remaining.filter((module) => Object.keys(module.calls ?? {}).every((name) => placed.has(name)));
    if (layer.length === 0) throw new Error(`the modules call each other in a circle, or call one not launched: ${remaining.map((module) => module.name).join(", ")}`);
    layers.push(layer);
    for (const module of layer) placed.add(module.name);
    remaining = remaining.filter((module) => !layer.includes(module));
  }
  return layers;
}

/** The durable consumers a service declares, as its module lists its handlers: a mesh is ready once all exist. */
export function consumersOf(module: LaunchedModule): string[] {
  return (module.consumes ?? []).map((handler) => handler.type.subject);
}

/** A process a launcher started: where it serves gRPC, if it learnt that only once started (port 0), and how to stop it. */
export interface LaunchedProcess {
  grpcAddress?: string;
  /** host:port of its admin port (a service) or of its HTTP port (the gateway), if it learnt that only once started (port 0). */
  adminAddress?: string;
  stop(): Promise<void>;
}

export interface LaunchOptions<Process extends LaunchedProcess, Module extends LaunchedModule> {
  /** The services to start; the shop's by default. */
  modules?: readonly Module[];
  placement: Placement;
  /** Where a service listens and its database. */
  place(module: Module): OwnPlace | Promise<OwnPlace>;
  /** The gateway's HTTP address; none: no gateway. */
  edgeHttpAddress?: string;
  /** The development console (it needs the gateway); none: no console. */
  console?: ConsolePlace;
  /** Variables for one process beyond the mesh's (the last word). */
  extraEnv?(name: string): NodeJS.ProcessEnv | undefined;
  /** Run one process with this environment; resolves once it serves (throws if it cannot). */
  run(name: string, env: NodeJS.ProcessEnv, module?: Module): Promise<Process>;
}

export interface LaunchedMesh<Process extends LaunchedProcess> {
  /** Every process by name: the services, each layer after those it calls, then the gateway and the console. */
  processes: Map<string, Process>;
  /** host:port where each service serves gRPC. */
  grpc: Record<string, string>;
  /** Stop the other way round: the console, the gateway, then each layer before the services it calls. */
  stop(): Promise<void>;
}

/**
 * Start the mesh: its services, then the gateway and the console. Where every
 * address is known before its process starts (fixed or chosen ports, as `make
 * up` and the benchmarks place them), everything starts at once: a service
 * needs its callees' addresses, not their being up, and the launch ends when
 * every process serves. Where a process learns its address only once started
 * (port 0), the services start layer by layer, each after those it calls,
 * then the gateway, then the console. If any fails to start, what was started
 * is stopped and the error thrown. NATS, the databases and the certificates
 * are the caller's, ready before.
 */
export async function launchMesh<Process extends LaunchedProcess, Module extends LaunchedModule = LaunchedModule>(
  options: LaunchOptions<Process, Module>,
): Promise<LaunchedMesh<Process>> {
  const modules = options.modules ?? (SHOP_MODULES as readonly LaunchedModule[] as readonly Module[]);
  const layers = startLayers(modules);
  const places = new Map(await Promise.all(modules.map(async (module) => [module.name, await options.place(module)] as const)));
  const grpc: Record<string, string> = {};
  const grpcAddress = (name: string) => grpc[name] ?? `(${name} not launched)`;
  // Every process's admin port (the gateway's HTTP port), for the console.
  const admin: Record<string, string> = {};
  const started = new Map<string, Process>();

  const startService = async (module: Module) => {
    const own = places.get(module.name)!;
    const env = { ...serviceEnvironment(module, options.placement, own, grpcAddress), ...options.extraEnv?.(module.name) };
    const child = await options.run(module.name, env, module);
    started.set(module.name, child);
    grpc[module.name] = child.grpcAddress ?? own.grpc;
    admin[module.name] = child.adminAddress ?? own.admin;
  };
  const edges: Array<() => Promise<void>> = [];
  const edgeHttpAddress = options.edgeHttpAddress;
  if (edgeHttpAddress !== undefined) {
    edges.push(async () => {
      const env = { ...gatewayEnvironment(options.placement, edgeHttpAddress, grpcAddress), ...options.extraEnv?.(SHOP_EDGE.name) };
      const gateway = await options.run(SHOP_EDGE.name, env);
      started.set(SHOP_EDGE.name, gateway);
      admin[SHOP_EDGE.name] = gateway.adminAddress ?? edgeHttpAddress;
    });
    const place = options.console;
    if (place !== undefined) {
      edges.push(async () => {
        const env = { ...consoleEnvironment(options.placement, place, admin[SHOP_EDGE.name]!, admin, grpcAddress), ...options.extraEnv?.(SHOP_CONSOLE.name) };
        started.set(SHOP_CONSOLE.name, await options.run(SHOP_CONSOLE.name, env));
      });
    }
  }

  const known = (address: string) => !address.endsWith(":0");
  const together = [...places.values()].every((own) => known(own.grpc) && known(own.admin)) && (edgeHttpAddress === undefined || known(edgeHttpAddress));
  if (together) {
    for (const [name, own] of places) {
      grpc[name] = own.grpc;
      admin[name] = own.admin;
    }
    if (edgeHttpAddress !== undefined) admin[SHOP_EDGE.name] = edgeHttpAddress;
  }
  const stages: Array<Array<() => Promise<void>>> = together
    ? [[...modules.map((module) => () => startService(module)), ...edges]]
    : [...layers.map((layer) => layer.map((module) => () => startService(module))), ...edges.map((edge) => [edge])];

  // The other way round: the console, the gateway, then each layer before the services it calls.
  const stopOrder = [[SHOP_CONSOLE.name], [SHOP_EDGE.name], ...layers.toReversed().map((layer) => layer.map((module) => module.name))];
  const stop = async () => {
    for (const names of stopOrder) await Promise.all(names.flatMap((name) => started.get(name) ?? []).map((child) => child.stop()));
  };
  try {
    for (const stage of stages) {
      // Settled, not raced: a failure is thrown once the stage's other processes are started (and so can be stopped).
      const outcomes = await Promise.allSettled(stage.map((start) => start()));
      const failed = outcomes.find((outcome) => outcome.status === "rejected");
      if (failed) throw failed.reason;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const processes = new Map(stopOrder.toReversed().flat().flatMap((name) => (started.has(name) ? [[name, started.get(name)!] as const] : [])));
  return { processes, grpc, stop };
}
