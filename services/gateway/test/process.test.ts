import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { importLoadsUndici, repoRoot, type ServiceProcess, spawnTs } from "../../../lib/test/support/process.js";
import { devEnvFile } from "../../../scripts/dev-env.js";
import { signCustomerToken } from "@bazaar/shop/customer-token";
import { bearer, testAuth } from "./support.js";

// The gateway as a process: configuration errors stop it before it listens,
// and SIGTERM drains it to a clean exit.

const ENTRY = "services/gateway/src/main.ts";
const running: ServiceProcess[] = [];
afterEach(() => running.splice(0).forEach((p) => p.kill()));

function spawnGateway(env: NodeJS.ProcessEnv): ServiceProcess {
  // Port 1: nobody listens there, so no test ever reaches a mesh someone started with `make up`.
  const nowhere = "127.0.0.1:1";
  const gateway = spawnTs(ENTRY, {
    HTTP_ADDR: "127.0.0.1:0",
    CATALOG_ADDR: nowhere,
    ORDERS_ADDR: nowhere,
    NOTIFICATIONS_ADDR: nowhere,
    LOG_LEVEL: "info",
    AUTH_JWT_SECRET: testAuth.AUTH_JWT_SECRET,
    TLS_MODE: "insecure",
    // Whatever the shell says: each test decides whether development settings are allowed.
    BAZAAR_DEV_MODE: undefined,
    ...env,
  });
  running.push(gateway);
  return gateway;
}

describe("gateway process", () => {
  it("exits 78 naming each bad variable", async () => {
    const gateway = spawnGateway({ HTTP_ADDR: "8080", REQUEST_TIMEOUT_MS: "soon" });
    expect(await gateway.exited).toBe(78);
    expect(gateway.stderr).toContain("HTTP_ADDR");
    expect(gateway.stderr).toContain("REQUEST_TIMEOUT_MS");
    expect(gateway.lines.find((l) => l.msg === "listening")).toBeUndefined();
  });

  it("exits 78 naming AUTH_JWT_SECRET when it is unset: no key is built in", async () => {
    // undefined removes it, even if this shell has one set.
    const gateway = spawnGateway({ AUTH_JWT_SECRET: undefined });
    expect(await gateway.exited).toBe(78);
    expect(gateway.stderr).toMatch(/AUTH_JWT_SECRET: .*\(unset\)/);
    expect(gateway.lines.find((l) => l.msg === "listening")).toBeUndefined();
  });

  it("exits 78 for an AUTH_JWT_SECRET shorter than 32 characters", async () => {
    const gateway = spawnGateway({ AUTH_JWT_SECRET: "x".repeat(31) });
    expect(await gateway.exited).toBe(78);
    expect(gateway.stderr).toContain("AUTH_JWT_SECRET: expected at least 32 characters");
  });

  it("exits 78 on deploy/dev.env's key without BAZAAR_DEV_MODE, naming both and never the key", async () => {
    const devKey = devEnvFile().AUTH_JWT_SECRET!;
    for (const flag of [undefined, "0"]) {
      const gateway = spawnGateway({ AUTH_JWT_SECRET: devKey, BAZAAR_DEV_MODE: flag });
      expect(await gateway.exited, String(flag)).toBe(78);
      expect(gateway.stderr).toContain("AUTH_JWT_SECRET: is the committed development key (deploy/dev.env)");
      expect(gateway.stderr).toContain("BAZAAR_DEV_MODE=1");
      expect(gateway.stderr).not.toContain(devKey);
      expect(gateway.lines.find((l) => l.msg === "listening")).toBeUndefined();
    }
  });

  it("takes deploy/dev.env's key when BAZAAR_DEV_MODE=1 says development settings are meant", async () => {
    const gateway = spawnGateway({ AUTH_JWT_SECRET: devEnvFile().AUTH_JWT_SECRET, BAZAAR_DEV_MODE: "1" });
    const { http_port } = await gateway.logLine("listening");
    expect((await fetch(`http://127.0.0.1:${http_port as number}/healthz`)).status).toBe(200);
    gateway.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
  });

  it.each(["SIGTERM", "SIGINT"] as const)("answers /healthz, then exits 0 on %s", async (signal) => {
    const gateway = spawnGateway({});
    const { http_port } = await gateway.logLine("listening");
    expect((await fetch(`http://127.0.0.1:${http_port as number}/healthz`)).status).toBe(200);
    gateway.child.kill(signal);
    expect(await gateway.exited).toBe(0);
    expect(gateway.lines.find((l) => l.msg === "stopped")).toMatchObject({ in_flight_finished: true });
  });

  it("logs one line per request, with route and status, and never the body or the bearer token", async () => {
    const gateway = spawnGateway({});
    const { http_port } = await gateway.logLine("listening");
    const url = `http://127.0.0.1:${http_port as number}`;
    const { authorization } = await bearer("cus_1");
    const response = await fetch(`${url}/api/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "key-logging", authorization },
      body: JSON.stringify({ customer_id: "cus_1", items: [{ product_id: "v60-dripper", quantity: 1 }], payment_token: "tok_secret_4242" }),
    });
    expect(response.status).toBe(503);
    const line = await gateway.logLine("http request");
    expect(line).toMatchObject({ method: "POST", route: "/api/orders", status: 503, duration_ms: expect.any(Number) });
    // A refused token is not logged either.
    const refused = await signCustomerToken({ ...testAuth, AUTH_JWT_SECRET: "another-key-another-key-another-key" }, "cus_1");
    expect((await fetch(`${url}/api/orders/ord_1`, { headers: { authorization: `Bearer ${refused}` } })).status).toBe(401);
    gateway.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(gateway.lines.some((l) => l.msg === "http request" && l.status === 401)).toBe(true);
    const everything = JSON.stringify(gateway.lines) + gateway.stderr;
    expect(everything).not.toContain("tok_secret_4242");
    expect(everything).not.toContain(authorization.slice("Bearer ".length));
    expect(everything).not.toContain(refused);
  });
});

describe("gateway memory", () => {
  it("never loads undici (fetch, WebSocket): its HTTP server comes from the runtime's createNodeHttpServer", () => {
    const modules = readdirSync(join(repoRoot, "services/gateway/src")).filter((file) => file.endsWith(".ts") && file !== "main.ts");
    expect(importLoadsUndici(modules.map((file) => join("services/gateway/src", file)))).toBe(false);
  });
});
