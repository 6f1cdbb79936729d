import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../src/admin.js";
import { Faults } from "../src/faults.js";
import { Health } from "../src/grpc/health.js";

// /faults on the admin port (admin.ts): there only when the process takes
// faults (BAZAAR_FAULTS=1), and then a small JSON API the console switches
// faults on and off with.

const health = new Health([]);

/** A request to the admin server; the status and the JSON answered. */
async function call(admin: AdminServer, method: string, path: string, body?: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`http://127.0.0.1:${admin.port}${path}`, { method, body, headers: body === undefined ? {} : { "content-type": "application/json" } });
  return { status: response.status, json: await response.json() };
}

describe("the admin port of a process without faults", () => {
  let admin: AdminServer;
  beforeAll(async () => {
    admin = await startAdminServer("127.0.0.1:0", health);
  });
  afterAll(() => admin?.close());

  it("has no /faults", async () => {
    expect((await call(admin, "GET", "/faults")).status).toBe(404);
    expect((await call(admin, "GET", "/faults/fail")).status).toBe(404);
  });

  it("refuses to switch one on: PUT is not a method it takes", async () => {
    expect((await call(admin, "PUT", "/faults/fail", JSON.stringify({ seconds: 30 }))).status).toBe(405);
    expect((await call(admin, "DELETE", "/faults/fail")).status).toBe(405);
  });

  it("still answers its probes", async () => {
    expect(await call(admin, "GET", "/healthz")).toEqual({ status: 200, json: { status: "alive" } });
  });
});

describe("the admin port of a process that takes faults", () => {
  const faults = new Faults();
  let admin: AdminServer;
  beforeAll(async () => {
    admin = await startAdminServer("127.0.0.1:0", health, faults);
  });
  afterAll(() => admin?.close());
  beforeEach(() => {
    for (const kind of ["slow", "fail", "pause-consumers"] as const) faults.clear(kind);
  });

  it("lists no faults until one is switched on", async () => {
    expect(await call(admin, "GET", "/faults")).toEqual({ status: 200, json: { active: [] } });
  });

  it('switches one on with PUT /faults/<kind> {"seconds": n}, answering what is on', async () => {
    const answer = await call(admin, "PUT", "/faults/fail", JSON.stringify({ seconds: 30 }));
    expect(answer).toEqual({ status: 200, json: { active: [{ kind: "fail", secondsLeft: 30 }] } });
    expect(faults.remainingMs("fail")).toBeGreaterThan(29_000);
    expect(await call(admin, "GET", "/faults")).toEqual({ status: 200, json: { active: [{ kind: "fail", secondsLeft: 30 }] } });
  });

  it("switches one off with DELETE /faults/<kind>, leaving the others on", async () => {
    await call(admin, "PUT", "/faults/slow", JSON.stringify({ seconds: 60 }));
    await call(admin, "PUT", "/faults/pause-consumers", JSON.stringify({ seconds: 60 }));
    const answer = await call(admin, "DELETE", "/faults/slow");
    expect(answer).toEqual({ status: 200, json: { active: [{ kind: "pause-consumers", secondsLeft: 60 }] } });
    expect(faults.remainingMs("slow")).toBe(0);
  });

  it("answers 404 naming the faults there are for a kind it does not know", async () => {
    const answer = await call(admin, "PUT", "/faults/explode", JSON.stringify({ seconds: 30 }));
    expect(answer.status).toBe(404);
    expect((answer.json as { error: string }).error).toBe('no such fault: "explode"; the faults are slow, fail, pause-consumers');
  });

  it("answers 405 for a method other than PUT or DELETE on a fault", async () => {
    expect((await call(admin, "POST", "/faults/slow", JSON.stringify({ seconds: 30 }))).status).toBe(405);
  });

  it.each([
    ["zero", { seconds: 0 }],
    ["too many", { seconds: 301 }],
    ["a fraction", { seconds: 2.5 }],
    ["a string", { seconds: "30" }],
    ["missing", {}],
    ["not an object", [30]],
  ])("answers 400 naming `seconds` when they are %s, and switches nothing on", async (_case, body) => {
    const answer = await call(admin, "PUT", "/faults/slow", JSON.stringify(body));
    expect(answer.status).toBe(400);
    expect((answer.json as { error: string }).error).toMatch(/^seconds: expected a whole number from 1 to 300/);
    expect(faults.active()).toEqual([]);
  });

  it("answers 400 for a body that is not JSON", async () => {
    const answer = await call(admin, "PUT", "/faults/slow", "seconds=30");
    expect(answer).toEqual({ status: 400, json: { error: 'body: expected JSON such as {"seconds": 60}' } });
    expect(faults.active()).toEqual([]);
  });

  it("takes a body of up to 1 KiB, and answers 400 for a longer one", async () => {
    const padded = (length: number) => {
      const body = JSON.stringify({ seconds: 30, padding: "x".repeat(length - JSON.stringify({ seconds: 30, padding: "" }).length) });
      expect(body).toHaveLength(length);
      return body;
    };
    expect((await call(admin, "PUT", "/faults/slow", padded(1024))).status).toBe(200);
    faults.clear("slow");
    for (const length of [1025, 256 * 1024]) {
      expect(await call(admin, "PUT", "/faults/slow", padded(length)), String(length)).toEqual({ status: 400, json: { error: "body: expected at most 1 KiB of JSON" } });
    }
    expect(faults.active()).toEqual([]);
  });

  it("keeps serving its probes beside the faults", async () => {
    expect(await call(admin, "GET", "/healthz")).toEqual({ status: 200, json: { status: "alive" } });
  });
});
