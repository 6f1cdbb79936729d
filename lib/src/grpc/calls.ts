import type * as grpc from "@grpc/grpc-js";
import { type Logger } from "../logger.js";
import { type Transport } from "../security/transport.js";
import { createClient, type PromiseClient } from "./client.js";

/** Another service a process calls: its contract, and the variable of the process's config that holds its address. */
export interface Call<Config> {
  service: grpc.ServiceDefinition;
  address: keyof Config & string;
}

/** A client per called service, by the name the module gave it. */
export type ClientsOf<Calls extends Record<string, { service: grpc.ServiceDefinition }>> = { [K in keyof Calls]: PromiseClient<Calls[K]["service"]> };

/**
 * One client per called service, as `calls` says: found at the address in its
 * config variable, calling with `transport`'s credentials for that peer, each
 * with its own breaker and bulkhead named after it (logs, metrics). The
 * services' modules and the gateway make theirs the same way.
 */
export function clientsFor<Config, Calls extends Record<string, Call<Config>>>(
  calls: Calls,
  config: Config,
  options: { transport: Transport; logger: Logger; deadlineMs: number },
): ClientsOf<Calls> {
  const { transport, logger, deadlineMs } = options;
  return Object.fromEntries(
    Object.entries(calls).map(([target, call]) => [
      target,
      createClient(call.service, String(config[call.address]), { deadlineMs, target, logger, credentials: transport.client(target) }),
    ]),
  ) as unknown as ClientsOf<Calls>;
}

/** Close every client clientsFor made (once nothing still calls through them). */
export function closeClients(clients: Record<string, { close(): void }>): void {
  for (const client of Object.values(clients)) client.close();
}
