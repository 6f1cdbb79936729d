import { env, transportVariables } from "@bazaar/runtime/config";
import { DEV_MODE_VARIABLE, devModeFlag, faultsFlag } from "@bazaar/runtime/dev-mode";
import { CONSOLE_HTTP_PORT } from "@bazaar/shop/ports";
import { z } from "zod";

/** "name=host:port,name=host:port": where each process of the mesh serves its admin port (/readyz, /metrics). */
const adminAddresses = () =>
  z
    .string({ error: "required: name=host:port for each process of the mesh, comma-separated, e.g. catalog=127.0.0.1:9051,orders=127.0.0.1:9053" })
    .transform((value, context) => {
      const entries = value.split(",").map((entry) => entry.trim()).filter(Boolean).map((entry) => entry.split("="));
      for (const entry of entries) {
        if (entry.length !== 2 || !/^[a-z][a-z0-9-]*$/.test(entry[0]!) || !/^[^\s:]+:\d{1,5}$/.test(entry[1]!)) {
          context.addIssue({ code: "custom", message: `expected name=host:port, got ${JSON.stringify(entry.join("="))}` });
          return z.NEVER;
        }
      }
      if (entries.length === 0) context.addIssue({ code: "custom", message: "expected at least one name=host:port" });
      const twice = entries.map(([name]) => name!).find((name, i, names) => names.indexOf(name) !== i);
      if (twice !== undefined) context.addIssue({ code: "custom", message: `${twice} is named twice: one address per process` });
      return Object.fromEntries(entries) as Record<string, string>;
    });

/**
 * The console's environment. It is a development tool from top to bottom (it
 * signs demo customers' tokens and switches faults on), so it refuses to start
 * without BAZAAR_DEV_MODE=1; the production overlay runs no console at all.
 */
export const consoleConfig = z
  .object({
    HTTP_ADDR: env.address(`127.0.0.1:${CONSOLE_HTTP_PORT}`),
    /** The shop's HTTP API, which the console's shop calls as a browser would (with a demo customer's token). */
    GATEWAY_URL: z.string().url("expected an http:// URL, e.g. http://127.0.0.1:8080").default("http://127.0.0.1:8080"),
    /** Stock levels for the catalog: the one call the console makes on the mesh (read only). */
    INVENTORY_ADDR: env.address(),
    MESH_ADMIN_ADDRS: adminAddresses(),
    NATS_URL: env.natsUrl(),
    /** nats-server's monitoring port, for its health on the map. */
    NATS_MONITOR_URL: z.string().url("expected an http:// URL, e.g. http://127.0.0.1:8222").default("http://127.0.0.1:8222"),
    /** host:port of PostgreSQL, for its node on the map (a TCP connect; the console has no login). Unset: not shown. */
    DATABASE_ADDR: env.address().optional(),
    /** The gateway's token settings: the console signs demo customers' tokens with them, server side only. */
    AUTH_JWT_SECRET: z.string({ error: "is required: the key the gateway checks customers' tokens with (deploy/dev.env)" }).min(32, "expected at least 32 characters"),
    AUTH_JWT_ISSUER: env.nonEmpty("bazaar"),
    AUTH_JWT_AUDIENCE: env.nonEmpty("bazaar-gateway"),
    LOG_LEVEL: env.logLevel(),
    SHUTDOWN_GRACE_MS: env.milliseconds(5_000),
    ...transportVariables(),
    BAZAAR_DEV_MODE: devModeFlag(),
    /** Offer the faults panel (the services must run with BAZAAR_FAULTS=1 too). */
    BAZAAR_FAULTS: faultsFlag(),
  })
  .superRefine((config, context) => {
    if (!config.BAZAAR_DEV_MODE) {
      context.addIssue({ code: "custom", path: ["BAZAAR_DEV_MODE"], message: `the console is a development tool: it runs only with ${DEV_MODE_VARIABLE}=1` });
    }
  });

export type ConsoleConfig = z.infer<typeof consoleConfig>;
