import { afterEach, describe, expect, it } from "vitest";
import { type ServiceProcess, spawnTs } from "../../../lib/test/support/process.js";

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

  it.each(["SIGTERM", "SIGINT"] as const)("answers /healthz, then exits 0 on %s", async (signal) => {
    const gateway = spawnGateway({});
    const { http_port } = await gateway.logLine("listening");
    expect((await fetch(`http://127.0.0.1:${http_port as number}/healthz`)).status).toBe(200);
    gateway.child.kill(signal);
    expect(await gateway.exited).toBe(0);
    expect(gateway.lines.find((l) => l.msg === "stopped")).toMatchObject({ in_flight_finished: true });
  });

  it("logs one line per request, with route and status, and never the body", async () => {
    const gateway = spawnGateway({});
    const { http_port } = await gateway.logLine("listening");
    const response = await fetch(`http://127.0.0.1:${http_port as number}/api/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "key-logging" },
      body: JSON.stringify({ customer_id: "cus_1", items: [{ product_id: "v60-dripper", quantity: 1 }], payment_token: "tok_secret_4242" }),
    });
    expect(response.status).toBe(503);
    const line = await gateway.logLine("http request");
    expect(line).toMatchObject({ method: "POST", route: "/api/orders", status: 503, duration_ms: expect.any(Number) });
    gateway.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(JSON.stringify(gateway.lines)).not.toContain("tok_secret_4242");
  });
});
