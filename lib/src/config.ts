import { z } from "zod";
import { devModeFlag, devSettingRefused, hasDevDatabasePassword } from "./dev-mode.js";
import { PORTS, type ServiceName } from "./ports.js";

/**
 * Configuration comes from environment variables only, and is validated once at
 * start: a bad or missing value stops the service with a message naming the
 * variable, instead of failing later in some handler.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Exit code for a configuration error (sysexits.h EX_CONFIG). */
export const EXIT_CONFIG = 78;

const LISTEN_ADDRESS = /^(?<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(?<port>\d{1,5})$/;

/** Reusable variable types; each error message says what was expected. */
export const env = {
  /** "host:port" to listen on or dial; port 0 asks the OS for a free port. */
  address: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine((v) => {
        const port = Number(LISTEN_ADDRESS.exec(v)?.groups?.port ?? -1);
        return port >= 0 && port <= 65535;
      }, "expected host:port, e.g. 127.0.0.1:50051"),
  /** A whole number of milliseconds. */
  milliseconds: (fallback: number) =>
    z.coerce
      .number({ error: "expected a whole number of milliseconds" })
      .int("expected a whole number of milliseconds")
      .min(0, "expected a whole number of milliseconds")
      .default(fallback),
  /** nats://host:port (several, comma-separated, for a cluster). */
  natsUrl: () =>
    z
      .string()
      .default("nats://127.0.0.1:4222")
      .refine((v) => v.split(",").every((url) => /^(nats|tls):\/\/[^\s/]+$/.test(url.trim())), "expected nats://host:port"),
  /** A non-empty string. */
  nonEmpty: (fallback: string) => z.string().min(1, "expected a non-empty value").default(fallback),
  /** Transport security: mutual TLS unless explicitly turned off. */
  tlsMode: () => z.enum(["mtls", "insecure"], { error: 'expected "mtls" or "insecure"' }).default("mtls"),
  logLevel: () => z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** The service's own PostgreSQL database (`make up` passes one per service, on its embedded cluster). */
  databaseUrl: () =>
    z
      .string({ error: "is required: postgres://user:password@host:port/database (make up sets it for every service)" })
      .regex(/^postgres(ql)?:\/\/./, "expected postgres://user:password@host:port/database"),
};

/** Transport security, read by every process of the mesh (see security/transport.ts). */
export function transportVariables() {
  return {
    /** mtls (the default): certificates both ways. insecure: plaintext, no caller identity; logged as a warning. */
    TLS_MODE: env.tlsMode(),
    /** Where ca.pem, <identity>.pem and <identity>-key.pem are (`make certs` writes certs/). */
    TLS_DIR: env.nonEmpty("certs"),
  };
}

/** The variables every service reads. */
export function baseServiceConfig(service: ServiceName) {
  return z.object({
    GRPC_ADDR: env.address(`127.0.0.1:${PORTS[service].grpc}`),
    ADMIN_ADDR: env.address(`127.0.0.1:${PORTS[service].admin}`),
    LOG_LEVEL: env.logLevel(),
    DATABASE_URL: env.databaseUrl(),
    NATS_URL: env.natsUrl(),
    /** Replicas of the streams the service declares: 1 for one nats-server, 3 for a cluster (Kubernetes). */
    NATS_STREAM_REPLICAS: z.coerce
      .number({ error: "expected a whole number from 1 to 5" })
      .int("expected a whole number from 1 to 5")
      .min(1, "expected a whole number from 1 to 5")
      .max(5, "expected a whole number from 1 to 5")
      .default(1),
    SHUTDOWN_GRACE_MS: env.milliseconds(10_000),
    ...transportVariables(),
    /** Who may call which method (security/policy.ts); unset: deploy/authz-policy.yaml. */
    AUTHZ_POLICY_FILE: z.string().min(1).optional(),
    /** Development-only settings allowed (dev-mode.ts): here, the committed database passwords. */
    BAZAAR_DEV_MODE: devModeFlag(),
  }).superRefine((config, context) => {
    if (!config.BAZAAR_DEV_MODE && hasDevDatabasePassword(config.DATABASE_URL)) {
      context.addIssue({ code: "custom", path: ["DATABASE_URL"], message: devSettingRefused("logs in with the committed development password (<user>-dev)") });
    }
  });
}

export type BaseServiceConfig = z.infer<ReturnType<typeof baseServiceConfig>>;

/** Variables whose values must never reach a log, even when they are wrong (URLs can carry passwords). */
const SECRET_VARIABLE = /SECRET|PASSWORD|TOKEN|_KEY$|DATABASE_URL/;

/** Validate `source` (the environment) against `schema`; throws ConfigError naming each bad variable. */
export function parseConfig<S extends z.ZodObject>(schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "?");
    const value = source[name];
    const shown = value === undefined ? "unset" : SECRET_VARIABLE.test(name) ? `got ${value.length} characters, not shown` : `got ${JSON.stringify(value)}`;
    return `  ${name}: ${issue.message} (${shown})`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}

/** parseConfig for a process entry point: on error, print the message and exit EX_CONFIG. */
export function loadConfigOrExit<S extends z.ZodObject>(schema: S): z.infer<S> {
  try {
    return parseConfig(schema);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
}

/** Split "host:port" (as validated by env.address) into its parts. */
export function splitAddress(address: string): { host: string; port: number } {
  const match = LISTEN_ADDRESS.exec(address);
  if (!match?.groups) throw new ConfigError(`not a host:port address: ${address}`);
  return { host: match.groups.host!.replace(/^\[|\]$/g, ""), port: Number(match.groups.port) };
}
