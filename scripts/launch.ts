/**
 * What every launcher of the shop (`make up`, the test meshes, the benchmarks)
 * starts, and with which environment, derived from the modules of the
 * services and of the gateway (scripts/shop.ts). A launcher chooses only what
 * differs: where each process listens, the databases, NATS, the certificates,
 * extra variables. How it runs the processes (detached with pid files, or as
 * children it watches) stays its own.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVICE_NODE_FLAGS } from "@bazaar/runtime/process";
import { type ServiceName } from "@bazaar/shop/ports";
import { devAuthSecret } from "./dev-env.js";
import { SHOP_EDGE, SHOP_MODULES, type ShopModule } from "./shop.js";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");

/** Every process of the shop's mesh besides NATS and PostgreSQL: the services, then the gateway. */
export type ProcessName = ServiceName | "gateway";

/** The compiled entry of a service or the gateway (make build). */
export const entryOf = (name: ProcessName) => join(ROOT, "services", name, "dist", "main.js");

/** The node arguments a service or the gateway runs with, as its container does (Dockerfile CMD). */
export const nodeArgsOf = (name: ProcessName, flags: readonly string[] = SERVICE_NODE_FLAGS) => [...flags, entryOf(name)];

/** Where the processes of one mesh are, as its launcher chose. */
export interface Placement {
  /** Where `name` serves gRPC (or where it was found serving, for one started on port 0). */
  grpcAddress(name: ServiceName): string;
  natsUrl: string;
  /** The certificates of every identity (ca.pem, <name>.pem, <name>-key.pem). */
  tlsDir: string;
  /** To every process, after the mesh's own variables (LOG_LEVEL, OTEL_*, ...). */
  env?: NodeJS.ProcessEnv;
}

/** The addresses of the services a process calls, in the variables it reads them from. */
function calledAddresses(calls: Readonly<Record<string, { address: string }>>, placement: Placement): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(calls).map(([name, call]) => [call.address, placement.grpcAddress(name as ServiceName)]));
}

/**
 * A service's environment: where it listens (`listen`: its gRPC and admin
 * addresses, port 0 allowed), its own database, NATS, mutual TLS with the
 * mesh's certificates, and the address of each service its module calls.
 * BAZAAR_DEV_MODE is set: every launcher here runs a development mesh.
 */
export function serviceEnvironment(
  module: ShopModule,
  placement: Placement,
  own: { grpc: string; admin: string; databaseUrl: string },
): NodeJS.ProcessEnv {
  return {
    GRPC_ADDR: own.grpc,
    ADMIN_ADDR: own.admin,
    DATABASE_URL: own.databaseUrl,
    NATS_URL: placement.natsUrl,
    TLS_MODE: "mtls",
    TLS_DIR: placement.tlsDir,
    LOG_LEVEL: "info",
    BAZAAR_DEV_MODE: "1",
    ...calledAddresses(module.calls ?? {}, placement),
    ...placement.env,
  };
}

/** The gateway's environment: where it listens for HTTP, the services behind it, and deploy/dev.env's token key. */
export function gatewayEnvironment(placement: Placement, httpAddress: string): NodeJS.ProcessEnv {
  return {
    HTTP_ADDR: httpAddress,
    TLS_MODE: "mtls",
    TLS_DIR: placement.tlsDir,
    LOG_LEVEL: "info",
    // Customers' token key: the environment's, else deploy/dev.env's (`npm run -s token` signs with the same).
    AUTH_JWT_SECRET: devAuthSecret(),
    // deploy/dev.env's key is a development-only setting: allowed on purpose here.
    BAZAAR_DEV_MODE: "1",
    ...calledAddresses(SHOP_EDGE.calls, placement),
    ...placement.env,
  };
}

/**
 * The modules in layers, each after every module it calls: a launcher that
 * waits for a layer to serve before starting the next gives each service its
 * dependencies' addresses and a first call that finds them up.
 */
export function startLayers(modules: readonly ShopModule[] = SHOP_MODULES): ShopModule[][] {
  const layers: ShopModule[][] = [];
  const placed = new Set<string>();
  let remaining = [...modules];
  while (remaining.length > 0) {
    const layer = remaining.filter((module) => Object.keys(module.calls ?? {}).every((name) => placed.has(name)));
    if (layer.length === 0) throw new Error(`the modules call each other in a circle: ${remaining.map((module) => module.name).join(", ")}`);
    layers.push(layer);
    for (const module of layer) placed.add(module.name);
    remaining = remaining.filter((module) => !layer.includes(module));
  }
  return layers;
}

/** The durable consumers each service declares, as its module lists its handlers: a mesh is ready once all exist. */
export function consumersOf(module: ShopModule): string[] {
  return (module.consumes ?? []).map((handler) => handler.type.subject);
}
