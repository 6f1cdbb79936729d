import { parseConfig } from "@bazaar/runtime/config";
import { configErrorOf } from "@bazaar/runtime/testing";
import { describe, expect, it } from "vitest";
import { consoleConfig } from "../src/config.js";

// The console's environment: a development tool that refuses to start outside
// development mode, and the list of admin ports it watches the mesh through.

const SECRET = "console-test-secret-of-at-least-32-characters";
const required = { INVENTORY_ADDR: "127.0.0.1:50054", MESH_ADMIN_ADDRS: "catalog=127.0.0.1:9051", AUTH_JWT_SECRET: SECRET, BAZAAR_DEV_MODE: "1" };

const configError = (env: NodeJS.ProcessEnv) => configErrorOf(() => parseConfig(consoleConfig, env));

describe("consoleConfig", () => {
  it("starts in development mode with where the mesh is, on its own port by default", () => {
    const config = parseConfig(consoleConfig, required);
    expect(config).toMatchObject({
      HTTP_ADDR: "127.0.0.1:8090",
      GATEWAY_URL: "http://127.0.0.1:8080",
      INVENTORY_ADDR: "127.0.0.1:50054",
      MESH_ADMIN_ADDRS: { catalog: "127.0.0.1:9051" },
      NATS_MONITOR_URL: "http://127.0.0.1:8222",
      BAZAAR_DEV_MODE: true,
      BAZAAR_FAULTS: false,
    });
    expect(config.DATABASE_ADDR).toBeUndefined(); // no database node on the map
  });

  it.each([undefined, "0", "false"])("refuses to start without BAZAAR_DEV_MODE=1 (BAZAAR_DEV_MODE=%s): the console is a development tool", (devMode) => {
    const message = configError({ ...required, BAZAAR_DEV_MODE: devMode });
    expect(message).toContain("BAZAAR_DEV_MODE: the console is a development tool: it runs only with BAZAAR_DEV_MODE=1");
  });

  it("reads every process's admin address, trimming spaces and skipping empty entries", () => {
    const config = parseConfig(consoleConfig, { ...required, MESH_ADMIN_ADDRS: " catalog=127.0.0.1:9051, orders=orders:9053,,gateway-edge=localhost:9080 " });
    expect(config.MESH_ADMIN_ADDRS).toEqual({ catalog: "127.0.0.1:9051", orders: "orders:9053", "gateway-edge": "localhost:9080" });
  });

  it("requires the admin addresses, saying what they look like", () => {
    const { MESH_ADMIN_ADDRS: _unset, ...withoutAddresses } = required;
    expect(configError(withoutAddresses)).toContain("MESH_ADMIN_ADDRS: required: name=host:port for each process of the mesh, comma-separated");
  });

  it.each([
    ["catalog", "catalog"],
    ["catalog=127.0.0.1", "catalog=127.0.0.1"],
    ["catalog=127.0.0.1:9051,orders:9053", "orders:9053"],
    ["Catalog=127.0.0.1:9051", "Catalog=127.0.0.1:9051"],
    ["catalog=127.0.0.1:9051=x", "catalog=127.0.0.1:9051=x"],
    ["catalog=127.0.0.1:port", "catalog=127.0.0.1:port"],
  ])("refuses MESH_ADMIN_ADDRS=%j naming the bad entry %j", (value, entry) => {
    const message = configError({ ...required, MESH_ADMIN_ADDRS: value });
    expect(message).toContain(`MESH_ADMIN_ADDRS: expected name=host:port, got ${JSON.stringify(entry)}`);
  });

  it("refuses a process named twice, which would drop one of its addresses unseen", () => {
    expect(configError({ ...required, MESH_ADMIN_ADDRS: "catalog=127.0.0.1:9051,catalog=127.0.0.1:9052" })).toContain("MESH_ADMIN_ADDRS: catalog is named twice: one address per process");
  });

  it("refuses a list with no entry at all", () => {
    expect(configError({ ...required, MESH_ADMIN_ADDRS: " , " })).toContain("MESH_ADMIN_ADDRS: expected at least one name=host:port");
  });
});
