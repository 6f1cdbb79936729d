import { describe, expect, it } from "vitest";
import { type ApiRequest } from "../src/http.js";
import { type Clients } from "../src/calls.js";
import { apiRoutes } from "../src/routes.js";

// The probes need no service behind them, so they are called straight from the route table.

const noRequest: ApiRequest = { params: {}, query: new URLSearchParams(), header: () => undefined, json: async () => undefined };

function probe(pattern: string, draining: boolean) {
  const route = apiRoutes({} as Clients, () => draining).find((r) => r.pattern === pattern);
  if (!route || route.customer) throw new Error(`no public route ${pattern}`);
  return route.handle(noRequest);
}

describe("probes", () => {
  it("/readyz is 200 until shutdown starts, then 503", async () => {
    expect(await probe("/readyz", false)).toEqual({ status: 200, body: { status: "SERVING" } });
    expect(await probe("/readyz", true)).toEqual({ status: 503, body: { status: "NOT_SERVING" } });
  });

  it("/healthz is 200 as long as the process answers, draining or not", async () => {
    expect((await probe("/healthz", true)).status).toBe(200);
  });
});
