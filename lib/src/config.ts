import { z } from "zod";
import { devModeFlag, devSettingRefused, FAULTS_NEED_DEV_MODE, faultsFlag, hasDevDatabasePassword } from "./dev-mode.js";

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

const DURATION = /^(\d+)(d|h|m|s)$/;
const DURATION_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
const parseDuration = (v: string) => {
  const [, amount, unit] = DURATION.exec(v) ?? [];
  return Number(amount) * (DURATION_MS[unit ?? ""] ?? Number.NaN);
};
const SIZE = /^(\d+)(KiB|MiB|GiB)?$/;
const SIZE_BYTES: Record<string, number> = { "": 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const parseSize = (v: string) => {
  const [, amount, unit] = SIZE.exec(v) ?? [];
  return Number(amount) * (SIZE_BYTES[unit ?? ""] ?? Number.NaN);
};

const LISTEN_ADDRESS = /^(?<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(?<port>\d{1,5})$/;

/** Reusable variable types; each error message says what was expected. */
export const env = {
  /** "host:port" to listen on or dial; port 0 asks the OS for a free port. Without a fallback, required. */
  address: (fallback?: string) =>
    (fallback === undefined ? z.string({ error: "required: expected host:port, e.g. 127.0.0.1:50051" }) : z.string().default(fallback))
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
  /** A length of time as a whole number and a unit: 30d, 12h, 90m, 45s. */
  duration: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine((v) => DURATION.test(v) && parseDuration(v) > 0, "expected a duration above zero: a whole number and d, h, m or s, e.g. 7d or 12h")
      .transform(parseDuration),
  /** A size in bytes, as a whole number with an optional unit: 512MiB, 2GiB, 1048576. */
  bytes: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine((v) => SIZE.test(v) && parseSize(v) > 0, "expected a size above zero: a whole number with KiB, MiB or GiB, e.g. 512MiB")
      .transform(parseSize),
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

/** Replicas of the streams: 1 for one nats-server, 3 for a cluster (Kubernetes). */
const streamReplicas = () =>
  z.coerce
    .number({ error: "expected a whole number from 1 to 5" })
    .int("expected a whole number from 1 to 5")
    .min(1, "expected a whole number from 1 to 5")
    .max(5, "expected a whole number from 1 to 5")
    .default(1);

/**
 * How long a stream keeps messages and how much it may hold (lib/src/events/nats.ts
 * StreamSettings): each event stream (ORDERS, PAYMENTS) and DEAD_LETTERS. The
 * defaults of the three add up to 1.25 GiB, under the JetStream store
 * deploy/nats/nats.conf gives a server (2 GB).
 */
export const STREAM_LIMITS = {
  events: { maxAge: "7d", maxBytes: "512MiB" },
  deadLetters: { maxAge: "30d", maxBytes: "256MiB" },
} as const;

/** A service's defaults: the authorization policy it ships with. */
export interface ServiceDefaults {
  /** AUTHZ_POLICY_FILE when unset; none: the variable is required under mutual TLS. */
  policyFile?: string;
}

/** The variables every service reads. */
export function baseServiceConfig(defaults: ServiceDefaults = {}) {
  return z.object({
    // Required here: a module's own ports are its defaults when it runs (runModule), a launcher's choice otherwise.
    GRPC_ADDR: env.address(),
    ADMIN_ADDR: env.address(),
    LOG_LEVEL: env.logLevel(),
    DATABASE_URL: env.databaseUrl(),
    NATS_URL: env.natsUrl(),
    SHUTDOWN_GRACE_MS: env.milliseconds(10_000),
    ...transportVariables(),
    /** Who may call which method (security/policy.ts). */
    AUTHZ_POLICY_FILE: defaults.policyFile === undefined ? z.string().min(1).optional() : z.string().min(1).default(defaults.policyFile),
    /** Development-only settings allowed (dev-mode.ts): here, the committed database passwords. */
    BAZAAR_DEV_MODE: devModeFlag(),
    /** Faults may be switched on from the admin port (faults.ts); development only. */
    BAZAAR_FAULTS: faultsFlag(),
  }).superRefine((config, context) => {
    if (!config.BAZAAR_DEV_MODE && hasDevDatabasePassword(config.DATABASE_URL)) {
      context.addIssue({ code: "custom", path: ["DATABASE_URL"], message: devSettingRefused("logs in with the committed development password (<user>-dev)") });
    }
    if (!config.BAZAAR_DEV_MODE && config.BAZAAR_FAULTS) context.addIssue({ code: "custom", path: ["BAZAAR_FAULTS"], message: FAULTS_NEED_DEV_MODE });
  });
}

export type BaseServiceConfig = z.infer<ReturnType<typeof baseServiceConfig>>;

/** What the NATS administrator (the shop's nats-admin program) reads: where NATS is, its certificate, how the streams are kept. */
export function natsAdminConfig() {
  return z.object({
    NATS_URL: env.natsUrl(),
    LOG_LEVEL: env.logLevel(),
    ...transportVariables(),
    NATS_STREAM_REPLICAS: streamReplicas(),
    NATS_EVENT_MAX_AGE: env.duration(STREAM_LIMITS.events.maxAge),
    NATS_EVENT_MAX_BYTES: env.bytes(STREAM_LIMITS.events.maxBytes),
    NATS_DEAD_LETTER_MAX_AGE: env.duration(STREAM_LIMITS.deadLetters.maxAge),
    NATS_DEAD_LETTER_MAX_BYTES: env.bytes(STREAM_LIMITS.deadLetters.maxBytes),
  });
}

export type NatsAdminConfig = z.infer<ReturnType<typeof natsAdminConfig>>;

/** Variables whose values must never reach a log, even when they are wrong (URLs can carry passwords). */
const SECRET_VARIABLE = /SECRET|PASSWORD|TOKEN|_KEY$|DATABASE_URL/;

/** Validate `source` (the environment) against `schema`; throws ConfigError naming each bad variable. */
export function parseConfig<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
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
export function loadConfigOrExit<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return parseConfig(schema, source);
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
