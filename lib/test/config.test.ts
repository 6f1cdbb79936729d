import { describe, expect, it } from "vitest";
import { baseServiceConfig, EXIT_CONFIG, natsAdminConfig, parseConfig, splitAddress } from "../src/config.js";
import { moduleEnvironment } from "../src/module.js";
import { configErrorOf, freshDatabase } from "../src/testing.js";
import { spawnTs } from "./support/process.js";

const POLICY_FILE = "/etc/bazaar/authz-policy.yaml";
const catalogConfig = baseServiceConfig({ policyFile: POLICY_FILE });
/** What a module on ports 50051 and 9051 reads when it runs (runModule): its ports as the addresses' defaults. */
const asModule = (env: NodeJS.ProcessEnv) => moduleEnvironment({ ports: { grpc: 50051, admin: 9051 } }, env);

const configError = (env: NodeJS.ProcessEnv, schema: typeof catalogConfig | ReturnType<typeof natsAdminConfig> = catalogConfig) =>
  configErrorOf(() => parseConfig(schema, schema === catalogConfig ? asModule(env) : env));

describe("service configuration", () => {
  it("defaults to the module's ports on loopback, mutual TLS with certs/ and the policy it ships with; the database is always named", () => {
    expect(parseConfig(catalogConfig, asModule({ DATABASE_URL: "postgres://catalog:pw@127.0.0.1:5432/catalog" }))).toEqual({
      GRPC_ADDR: "127.0.0.1:50051",
      ADMIN_ADDR: "127.0.0.1:9051",
      LOG_LEVEL: "info",
      DATABASE_URL: "postgres://catalog:pw@127.0.0.1:5432/catalog",
      NATS_URL: "nats://127.0.0.1:4222",
      SHUTDOWN_GRACE_MS: 10_000,
      TLS_MODE: "mtls",
      TLS_DIR: "certs",
      AUTHZ_POLICY_FILE: POLICY_FILE,
      BAZAAR_DEV_MODE: false,
      BAZAAR_FAULTS: false,
    });
  });

  it("reads every variable from the environment", () => {
    const config = parseConfig(catalogConfig, {
      GRPC_ADDR: "0.0.0.0:6000",
      ADMIN_ADDR: "[::1]:0",
      LOG_LEVEL: "debug",
      DATABASE_URL: "postgres://catalog:pw@db:5432/catalog",
      SHUTDOWN_GRACE_MS: "2500",
    });
    expect(config).toMatchObject({ GRPC_ADDR: "0.0.0.0:6000", SHUTDOWN_GRACE_MS: 2500, LOG_LEVEL: "debug" });
    expect(splitAddress(config.ADMIN_ADDR)).toEqual({ host: "::1", port: 0 });
  });

  it.each([
    [{ GRPC_ADDR: "50051" }, "GRPC_ADDR", "expected host:port"],
    [{ GRPC_ADDR: "localhost:99999" }, "GRPC_ADDR", "expected host:port"],
    [{ ADMIN_ADDR: "" }, "ADMIN_ADDR", "expected host:port"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", "loud"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL", "expected postgres://"],
    [{}, "DATABASE_URL", "is required: postgres://user:password@host:port/database (make up sets it for every service)"],
    [{ SHUTDOWN_GRACE_MS: "soon" }, "SHUTDOWN_GRACE_MS", "milliseconds"],
    [{ SHUTDOWN_GRACE_MS: "-5" }, "SHUTDOWN_GRACE_MS", "milliseconds"],
    [{ TLS_MODE: "off" }, "TLS_MODE", 'expected "mtls" or "insecure"'],
    [{ TLS_DIR: "" }, "TLS_DIR", "non-empty"],
    [{ BAZAAR_DEV_MODE: "yes" }, "BAZAAR_DEV_MODE", 'expected "1" (development-only settings allowed) or "0"'],
  ])("rejects %j naming the variable", (env, variable, expected) => {
    const message = configError(env);
    expect(message).toContain(`${variable}:`);
    expect(message).toContain(expected);
  });

  it("never prints the value of a variable that can hold a secret", () => {
    const message = configError({ DATABASE_URL: "mysql://app:hunter2@db/app" });
    expect(message).toContain("DATABASE_URL: expected postgres://");
    expect(message).toContain("got 26 characters, not shown");
    expect(message).not.toContain("hunter2");
  });

  it("refuses the committed development database password (<user>-dev) unless BAZAAR_DEV_MODE allows it", () => {
    const devUrl = "postgres://catalog:catalog-dev@postgres:5432/catalog";
    for (const flag of [undefined, "0", "false"]) {
      const message = configError({ DATABASE_URL: devUrl, BAZAAR_DEV_MODE: flag });
      expect(message, String(flag)).toContain("DATABASE_URL: logs in with the committed development password (<user>-dev)");
      expect(message, String(flag)).toContain("BAZAAR_DEV_MODE=1");
      expect(message).not.toContain("catalog-dev");
    }
    for (const flag of ["1", "true"]) expect(parseConfig(catalogConfig, asModule({ DATABASE_URL: devUrl, BAZAAR_DEV_MODE: flag })).BAZAAR_DEV_MODE, flag).toBe(true);
    // Another user's development password, or no password at all, is not this user's: nothing to refuse.
    expect(() => parseConfig(catalogConfig, asModule({ DATABASE_URL: "postgres://catalog:orders-dev@postgres:5432/catalog" }))).not.toThrow();
    expect(() => parseConfig(catalogConfig, asModule({ DATABASE_URL: "postgres://catalog@127.0.0.1:5432/catalog" }))).not.toThrow();
  });

  it("requires where to listen when no module gives its ports, and every address a service dials", () => {
    const message = configError({ DATABASE_URL: "postgres://catalog@127.0.0.1:5432/catalog" }, baseServiceConfig());
    expect(message).toContain("GRPC_ADDR: required: expected host:port");
    expect(message).toContain("ADMIN_ADDR: required: expected host:port");
  });

  it("lists every bad variable at once", () => {
    const message = configError({ GRPC_ADDR: "x", LOG_LEVEL: "y" });
    expect(message).toMatch(/GRPC_ADDR:[\s\S]*LOG_LEVEL:/);
  });
});

describe("the NATS administrator's configuration (shop/src/nats-admin.ts)", () => {
  it("keeps events a week and dead letters a month by default, and reads durations and sizes with their units", () => {
    expect(parseConfig(natsAdminConfig(), {})).toMatchObject({
      NATS_STREAM_REPLICAS: 1,
      NATS_EVENT_MAX_AGE: 7 * 86_400_000,
      NATS_EVENT_MAX_BYTES: 512 * 1024 ** 2,
      NATS_DEAD_LETTER_MAX_AGE: 30 * 86_400_000,
      NATS_DEAD_LETTER_MAX_BYTES: 256 * 1024 ** 2,
    });
    const config = parseConfig(natsAdminConfig(), { NATS_EVENT_MAX_AGE: "36h", NATS_EVENT_MAX_BYTES: "2GiB", NATS_DEAD_LETTER_MAX_AGE: "90m", NATS_DEAD_LETTER_MAX_BYTES: "1048576" });
    expect(config).toMatchObject({ NATS_EVENT_MAX_AGE: 36 * 3_600_000, NATS_EVENT_MAX_BYTES: 2 * 1024 ** 3, NATS_DEAD_LETTER_MAX_AGE: 90 * 60_000, NATS_DEAD_LETTER_MAX_BYTES: 1_048_576 });
  });

  it.each([
    [{ NATS_STREAM_REPLICAS: "7" }, "NATS_STREAM_REPLICAS", "expected a whole number from 1 to 5"],
    [{ NATS_EVENT_MAX_AGE: "7 days" }, "NATS_EVENT_MAX_AGE", "expected a duration above zero"],
    [{ NATS_DEAD_LETTER_MAX_AGE: "0d" }, "NATS_DEAD_LETTER_MAX_AGE", "expected a duration above zero"],
    [{ NATS_EVENT_MAX_BYTES: "1GB" }, "NATS_EVENT_MAX_BYTES", "expected a size above zero"],
    [{ NATS_DEAD_LETTER_MAX_BYTES: "0" }, "NATS_DEAD_LETTER_MAX_BYTES", "expected a size above zero"],
  ])("rejects %j naming the variable", (env, variable, expected) => {
    expect(configError(env, natsAdminConfig())).toContain(`${variable}: ${expected}`);
  });
});

describe("a service process with bad configuration", () => {
  it("exits with EX_CONFIG and a message naming the variable, before opening any port", async () => {
    const service = spawnTs("lib/test/fixtures/bare-service.ts", { GRPC_ADDR: "not-an-address", LOG_LEVEL: "shouty" });
    expect(await service.exited).toBe(EXIT_CONFIG);
    expect(service.stderr).toContain("invalid configuration");
    expect(service.stderr).toContain('GRPC_ADDR: expected host:port, e.g. 127.0.0.1:50051 (got "not-an-address")');
    expect(service.stderr).toContain("LOG_LEVEL:");
    expect(service.lines.filter((line) => line.msg === "listening")).toEqual([]);
  });

  it("exits with EX_CONFIG on the committed development database password without BAZAAR_DEV_MODE", async () => {
    const service = spawnTs("lib/test/fixtures/bare-service.ts", {
      GRPC_ADDR: "127.0.0.1:0",
      ADMIN_ADDR: "127.0.0.1:0",
      DATABASE_URL: "postgres://catalog:catalog-dev@127.0.0.1:1/catalog",
      BAZAAR_DEV_MODE: undefined,
    });
    expect(await service.exited).toBe(EXIT_CONFIG);
    expect(service.stderr).toContain("DATABASE_URL: logs in with the committed development password");
    expect(service.stderr).toContain("BAZAAR_DEV_MODE=1");
    expect(service.lines.filter((line) => line.msg === "listening")).toEqual([]);
  });

  it("exits with EX_CONFIG when mutual TLS is on and its certificates are missing, saying how to make them", async () => {
    const service = spawnTs("lib/test/fixtures/bare-service.ts", {
      GRPC_ADDR: "127.0.0.1:0",
      ADMIN_ADDR: "127.0.0.1:0",
      DATABASE_URL: await freshDatabase("config"),
      TLS_DIR: "/nonexistent/certs",
    });
    expect(await service.exited).toBe(EXIT_CONFIG);
    expect(JSON.stringify(service.lines)).toContain("TLS_DIR: cannot read /nonexistent/certs/ca.pem; run `make certs`");
  });
});
