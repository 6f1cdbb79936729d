import type * as grpc from "@grpc/grpc-js";
import { type z } from "zod";
import { type BaseServiceConfig, loadConfigOrExit } from "./config.js";
import { type EventHandler } from "./events/consumer.js";
import { type EventType } from "./events/event-type.js";
import { type Call, type ClientsOf, clientsFor, closeClients } from "./grpc/calls.js";
import { createLogger, type Logger } from "./logger.js";
import { type PeriodicJob } from "./periodic.js";
import { runUntilSignalled } from "./process.js";
import { createTransport } from "./security/transport.js";
import { type Implementation, type RunningService, type ServiceDeps, startService } from "./service.js";

/** What a module's parts are built from before the database opens: its parsed config and its clients. */
export interface ModuleSetup<Config, Calls extends Record<string, { service: grpc.ServiceDefinition }>> {
  config: Config;
  clients: ClientsOf<Calls>;
  logger: Logger;
}

/** Where a service listens unless told otherwise (GRPC_ADDR, ADMIN_ADDR on 127.0.0.1), and where a launcher with a fixed port map puts it. */
export interface ServicePorts {
  grpc: number;
  admin: number;
}

/**
 * A service, declared once (services/<name>/src/module.ts): everything the
 * runtime starts and everything a launcher needs to know of it. Its name is its
 * identity (certificate, NATS user, policy entry); its config schema is what it
 * reads from the environment; its ports; `calls` are the services it depends on, each
 * given one client (with its own breaker) and found at the address in that
 * config variable; the events it publishes through its outbox and the handlers
 * it consumes them with; its background jobs.
 */
export interface ServiceModule<
  Config extends BaseServiceConfig = BaseServiceConfig,
  Calls extends Record<string, Call<Config>> = Record<string, Call<Config>>,
  Name extends string = string,
> {
  /** Its identity: its certificate, its NATS user, its entry in the policy, its logs. */
  name: Name;
  config: z.ZodType<Config>;
  ports: ServicePorts;
  /** Its *.sql migrations, applied at start to its own database. */
  migrationsDir: string;
  calls?: Calls;
  /** The deadline of each call to `calls` that sets none (default 5 s). */
  callDeadlineMs?: (config: Config) => number;
  /** Its gRPC services. */
  grpc(setup: ModuleSetup<Config, Calls>): Implementation[];
  publishes?: EventType<unknown>[];
  consumes?: EventHandler<unknown>[];
  /** Work run once it serves, stopped while it drains (sweepers and the like). */
  background?(deps: ServiceDeps, setup: ModuleSetup<Config, Calls>): PeriodicJob[];
}

/** Declare a module; typed by its config schema and its calls. */
export function defineService<Config extends BaseServiceConfig, const Name extends string, Calls extends Record<string, Call<Config>> = Record<never, Call<Config>>>(
  module: ServiceModule<Config, Calls, Name>,
): ServiceModule<Config, Calls, Name> {
  return module;
}

const DEFAULT_CALL_DEADLINE_MS = 5000;

/**
 * Start a module in this process with `config` (already parsed): its clients,
 * then the runtime's lifecycle (startService). Stopping it drains the server
 * first and closes the clients last, when no call of its own still needs them.
 */
export async function startModule<Config extends BaseServiceConfig, Calls extends Record<string, Call<Config>>>(
  module: ServiceModule<Config, Calls, string>,
  config: Config,
  logger: Logger = createLogger(module.name, config.LOG_LEVEL),
): Promise<RunningService> {
  const transport = createTransport(config, module.name, logger);
  const deadlineMs = module.callDeadlineMs?.(config) ?? DEFAULT_CALL_DEADLINE_MS;
  const clients = clientsFor(module.calls ?? ({} as Calls), config, { transport, logger, deadlineMs });
  const setup: ModuleSetup<Config, Calls> = { config, clients, logger };
  return startService({
    name: module.name,
    config,
    logger,
    transport,
    migrationsDir: module.migrationsDir,
    services: module.grpc(setup),
    events: { publishes: module.publishes, consumes: module.consumes },
    background: (deps) => module.background?.(deps, setup) ?? [],
    onStop: () => closeClients(clients),
  });
}

/** The environment a module reads its config from: `env`, where GRPC_ADDR and ADMIN_ADDR default to the module's own ports. */
export function moduleEnvironment(module: Pick<ServiceModule, "ports">, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { GRPC_ADDR: `127.0.0.1:${module.ports.grpc}`, ADMIN_ADDR: `127.0.0.1:${module.ports.admin}`, ...env };
}

/**
 * A service process's whole main.ts: read the module's config from the
 * environment (exit 78 naming what is wrong), start it, drain and exit on
 * SIGTERM or SIGINT.
 */
export async function runModule<Config extends BaseServiceConfig, Calls extends Record<string, Call<Config>>>(module: ServiceModule<Config, Calls, string>): Promise<void> {
  const config = loadConfigOrExit(module.config, moduleEnvironment(module));
  const logger = createLogger(module.name, config.LOG_LEVEL);
  await runUntilSignalled(startModule(module, config, logger), logger);
}
