import { describe, expect, it } from "vitest";
import { baseServiceConfig, ConfigError, EXIT_CONFIG, parseConfig, splitAddress } from "../src/config.js";
import { spawnTs } from "./support/process.js";

const catalogConfig = baseServiceConfig("catalog");

function configError(env: NodeJS.ProcessEnv): string {
  try {
    parseConfig(catalogConfig, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("service configuration", () => {
  it("defaults to the port map on loopback and the embedded database", () => {
    expect(parseConfig(catalogConfig, {})).toEqual({
      GRPC_ADDR: "127.0.0.1:50051",
      ADMIN_ADDR: "127.0.0.1:9051",
      LOG_LEVEL: "info",
      DATABASE_URL: undefined,
      DATA_DIR: ".data/catalog",
      NATS_URL: "nats://127.0.0.1:4222",
      SHUTDOWN_GRACE_MS: 10_000,
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
    [{ SHUTDOWN_GRACE_MS: "soon" }, "SHUTDOWN_GRACE_MS", "milliseconds"],
    [{ SHUTDOWN_GRACE_MS: "-5" }, "SHUTDOWN_GRACE_MS", "milliseconds"],
  ])("rejects %j naming the variable", (env, variable, expected) => {
    const message = configError(env);
    expect(message).toContain(`${variable}:`);
    expect(message).toContain(expected);
  });

  it("lists every bad variable at once", () => {
    const message = configError({ GRPC_ADDR: "x", LOG_LEVEL: "y" });
    expect(message).toMatch(/GRPC_ADDR:[\s\S]*LOG_LEVEL:/);
  });
});

describe("a service process with bad configuration", () => {
  it("exits with EX_CONFIG and a message naming the variable, before opening any port", async () => {
    const service = spawnTs("services/catalog/src/main.ts", { GRPC_ADDR: "not-an-address", LOG_LEVEL: "shouty" });
    expect(await service.exited).toBe(EXIT_CONFIG);
    expect(service.stderr).toContain("invalid configuration");
    expect(service.stderr).toContain('GRPC_ADDR: expected host:port, e.g. 127.0.0.1:50051 (got "not-an-address")');
    expect(service.stderr).toContain("LOG_LEVEL:");
    expect(service.lines.filter((line) => line.msg === "listening")).toEqual([]);
  });
});
