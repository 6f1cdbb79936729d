import * as grpc from "@grpc/grpc-js";
import { startAdminServer } from "./admin.js";
import { type BaseServiceConfig, ConfigError } from "./config.js";
import { contractRegistry } from "./contracts.js";
import { type Database, openDatabase } from "./db/database.js";
import { migrateService } from "./db/migrate.js";
import { type EventHandler } from "./events/consumer.js";
import { type EventType } from "./events/event-type.js";
import { Outbox } from "./events/outbox.js";
import { startEvents } from "./events/runtime.js";
import { Faults } from "./faults.js";
import { Health, ServingStatus } from "./grpc/health.js";
import { Reflection } from "./grpc/reflection.js";
import { callGuard } from "./grpc/call-guard.js";
import { addUnaryService, bindServer, drainServer, SERVER_OPTIONS, startingHandlers, type UnaryHandlers } from "./grpc/server.js";
import { createLogger, type Logger } from "./logger.js";
import { runUntilSignalled } from "./process.js";
import { loadPolicy } from "./security/policy.js";
import { createTransport, type Transport } from "./security/transport.js";
import { beginProcess, stopOnce } from "./lifecycle.js";

/** What a service's handlers are built from once its database is ready. */
export interface ServiceDeps {
  db: Database;
  logger: Logger;
  /** Record events in the same transaction as the change they describe. */
  outbox: Outbox;
}

/** One gRPC service of a process: its generated definition and how to build its handlers. */
export interface Implementation {
  name: string;
  definition: grpc.ServiceDefinition;
  create(deps: ServiceDeps): UnaryHandlers<grpc.ServiceDefinition>;
}

/** Pair a generated definition with a factory of its (type-checked) handlers. */
export function implement<D extends grpc.ServiceDefinition>(
  definition: D,
  create: (deps: ServiceDeps) => UnaryHandlers<D>,
): Implementation {
  const path = Object.values(definition)[0]?.path ?? "";
  const name = path.split("/")[1] ?? "";
  return { name, definition, create: create as Implementation["create"] };
}

export interface ServiceOptions {
  /** Short name for logs and the default data directory, e.g. "catalog". */
  name: string;
  config: BaseServiceConfig;
  /** Folder of *.sql migrations for this service's database. */
  migrationsDir: string;
  services: Implementation[];
  /** The events this service publishes (through its outbox) and consumes. */
  events?: {
    publishes?: EventType<unknown>[];
    /** Handlers get the service's outbox with each event (EventContext). */
    consumes?: EventHandler<unknown>[];
  };
  /** Work run in the background once SERVING (sweepers and the like); stopped while draining. */
  background?: (deps: ServiceDeps) => Array<{ stop(): Promise<void> }>;
  /** Called while draining, after in-flight calls finished: close clients and the like. */
  onStop?: () => Promise<void> | void;
  logger?: Logger;
  /** How this service talks gRPC (mTLS or, when configured, plaintext); made from config when not given. */
  transport?: Transport;
}

/** Under mutual TLS every call is authorized: a service without its policy must not start. */
function requirePolicyFile(file: string | undefined): string {
  if (file === undefined) throw new ConfigError("AUTHZ_POLICY_FILE: is required under mutual TLS: who may call which method (unset)");
  return file;
}

export interface RunningService {
  grpcPort: number;
  adminPort: number;
  logger: Logger;
  health: Health;
  /** Drain and stop: NOT_SERVING, finish in-flight calls (within the grace period), close the database. */
  stop(): Promise<void>;
}

/**
 * Start a service the same way every time: the gRPC port opens first with
 * health NOT_SERVING (so orchestrators can watch it come up), then the database
 * opens and migrates, then handlers are installed and health says SERVING.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  beginProcess(options.name);
  const logger = options.logger ?? createLogger(options.name, config.LOG_LEVEL);
  const names = options.services.map((service) => service.name);
  const health = new Health(names);
  const reflection = new Reflection(contractRegistry(), () => [...names, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);

  const transport = options.transport ?? createTransport(config, options.name, logger);
  // Every call, health and reflection included, is counted and, under mTLS, passes the authorization policy (call-guard.ts).
  const policy = transport.mode === "mtls" ? loadPolicy(requirePolicyFile(config.AUTHZ_POLICY_FILE)) : undefined;
  // BAZAAR_FAULTS=1 (development only, refused otherwise by the config): faults from the admin port.
  const faults = config.BAZAAR_FAULTS ? new Faults() : undefined;
  const guard = callGuard({ policy, logger, faults });
  const server = new grpc.Server({ ...SERVER_OPTIONS, interceptors: [guard.interceptor] });
  health.addTo(server);
  reflection.addTo(server);
  const installs = options.services.map((service) => {
    const handlers = startingHandlers<UnaryHandlers<grpc.ServiceDefinition>>(service.name);
    addUnaryService(server, service.definition, handlers.resolve, logger, guard);
    return (deps: ServiceDeps) => handlers.ready(service.create(deps));
  });

  const grpcPort = await bindServer(server, config.GRPC_ADDR, transport.server());
  let db: Database | undefined;
  let admin: Awaited<ReturnType<typeof startAdminServer>> | undefined;
  try {
    admin = await startAdminServer(config.ADMIN_ADDR, health, faults);
    logger.info({ grpc_port: grpcPort, admin_port: admin.port, tls_mode: transport.mode }, "listening");
    db = await openDatabase(config.DATABASE_URL);
    const applied = await migrateService(db, options.migrationsDir);
    logger.info({ migrations_applied: applied }, "database ready");
  } catch (error) {
    server.forceShutdown();
    await admin?.close();
    await db?.close();
    throw error;
  }
  const deps: ServiceDeps = { db, logger, outbox: new Outbox() };
  for (const install of installs) install(deps);
  const publishes = options.events?.publishes ?? [];
  const handlers = options.events?.consumes ?? [];
  const events =
    publishes.length + handlers.length > 0
      ? startEvents({ service: options.name, natsUrl: config.NATS_URL, db, logger, publishes, handlers, outbox: deps.outbox, tls: transport.files, faults })
      : undefined;
  health.setAll(ServingStatus.SERVING);
  logger.info({ services: names }, "serving");
  const background = options.background?.(deps) ?? [];

  const openDb = db;
  const openAdmin = admin;
  const stop = stopOnce(
    logger,
    config.SHUTDOWN_GRACE_MS,
    (graceMs) => {
      health.shutdown();
      return drainServer(server, graceMs);
    },
    [() => Promise.all(background.map((job) => job.stop())), () => events?.stop(), () => options.onStop?.(), () => openAdmin.close(), () => openDb.close()],
  );
  return { grpcPort, adminPort: openAdmin.port, logger, health, stop };
}

/** Entry point for a service process: start it, then drain and exit on SIGTERM or SIGINT (see runUntilSignalled). */
export async function runService(options: ServiceOptions): Promise<void> {
  const logger = options.logger ?? createLogger(options.name, options.config.LOG_LEVEL);
  await runUntilSignalled(startService({ ...options, logger }), logger);
}
