import { type z } from "zod";
import { loadConfigOrExit } from "./config.js";
import { type Call, type ClientsOf, clientsFor, closeClients } from "./grpc/calls.js";
import { beginProcess, stopOnce } from "./lifecycle.js";
import { createLogger, type Logger } from "./logger.js";
import { runUntilSignalled } from "./process.js";
import { createTransport, type TransportConfig } from "./security/transport.js";

/**
 * An edge: a process that serves the outside world (HTTP, not the mesh's gRPC),
 * owns no database and calls services, such as the gateway. It is declared
 * once, like a service module, and lives the same lifecycle: observed from the
 * start (beginProcess), a client per called service (clientsFor), drained and
 * released one way (stopOnce), stopped on SIGTERM or SIGINT.
 */

/** What every edge reads: its log level, its grace period, its TLS. */
export interface EdgeConfig extends TransportConfig {
  LOG_LEVEL: string;
  SHUTDOWN_GRACE_MS: number;
}

/** What an edge opens with: its config, its clients, its logger, and whether the process is draining. */
export interface EdgeSetup<Config, Calls extends Record<string, Call<Config>>> {
  config: Config;
  clients: ClientsOf<Calls>;
  logger: Logger;
  /** True from the moment the process starts draining: the edge says so to new work (503, readiness). */
  isDraining(): boolean;
}

/** An open edge: where it listens, and how it stops taking work and lets what is in flight finish. */
export interface OpenEdge {
  port: number;
  /** Resolves true if everything in flight finished within `graceMs`. */
  drain(graceMs: number): Promise<boolean>;
}

export interface EdgeModule<Config extends EdgeConfig, Calls extends Record<string, Call<Config>>, Name extends string = string> {
  /** Its identity: its certificate, its entry in the services' policy, its logs. */
  name: Name;
  config: z.ZodType<Config>;
  /** The services it calls, each given one client, found at the address in that config variable. */
  calls: Calls;
  /** The deadline of each call that sets none. */
  callDeadlineMs(config: Config): number;
  /** Listen (and log "listening"); close on a failure, nothing else left open. */
  open(setup: EdgeSetup<Config, Calls>): Promise<OpenEdge>;
}

/** Declare an edge; typed by its config schema and its calls. */
export function defineEdge<Config extends EdgeConfig, Calls extends Record<string, Call<Config>>, const Name extends string>(
  module: EdgeModule<Config, Calls, Name>,
): EdgeModule<Config, Calls, Name> {
  return module;
}

export interface RunningEdge {
  /** The bound port (useful with port 0). */
  port: number;
  /** Stop taking work, let what is in flight finish (within SHUTDOWN_GRACE_MS), close the clients. */
  stop(): Promise<void>;
}

/** Start an edge in this process with `config` (already parsed). */
export async function startEdge<Config extends EdgeConfig, Calls extends Record<string, Call<Config>>>(
  module: EdgeModule<Config, Calls, string>,
  config: Config,
  logger: Logger = createLogger(module.name, config.LOG_LEVEL),
): Promise<RunningEdge> {
  beginProcess(module.name);
  const transport = createTransport(config, module.name, logger);
  const clients = clientsFor(module.calls, config, { transport, logger, deadlineMs: module.callDeadlineMs(config) });
  let draining = false;
  let edge: OpenEdge;
  try {
    edge = await module.open({ config, clients, logger, isDraining: () => draining });
  } catch (error) {
    closeClients(clients);
    throw error;
  }
  const stop = stopOnce(
    logger,
    config.SHUTDOWN_GRACE_MS,
    (graceMs) => {
      draining = true;
      return edge.drain(graceMs);
    },
    // Only after the drain: work still in flight needs its clients until it is answered.
    [() => closeClients(clients)],
  );
  return { port: edge.port, stop };
}

/** An edge process's whole main.ts: its config from the environment (exit 78 naming what is wrong), started, stopped on a signal. */
export async function runEdge<Config extends EdgeConfig, Calls extends Record<string, Call<Config>>>(module: EdgeModule<Config, Calls, string>): Promise<void> {
  const config = loadConfigOrExit(module.config);
  const logger = createLogger(module.name, config.LOG_LEVEL);
  await runUntilSignalled(startEdge(module, config, logger), logger);
}
