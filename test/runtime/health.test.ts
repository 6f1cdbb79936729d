import { createServer, type Server, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
  HealthService,
  type HealthCheckResponse,
} from "@bazaar/gen/grpc/health/v1/health";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogService } from "../../services/catalog/src/service.js";
import { migrationsDir } from "../../services/catalog/src/store.js";
import { createClient } from "@bazaar/runtime/grpc/client";
import { startTestService } from "@bazaar/runtime/testing";
import { freePort } from "../../lib/test/support/process.js";

const CATALOG = "bazaar.catalog.v1.CatalogService";

describe("health of a running service", () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let health: ReturnType<typeof createClient<typeof HealthService>>;
  beforeAll(async () => {
    service = await startTestService("catalog", { migrationsDir, services: [catalogService] });
    health = createClient(HealthService, service.address, { deadlineMs: 2000 });
  });
  afterAll(() => health?.close());

  it("is SERVING for the server and for each service once the database is ready", async () => {
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: CATALOG })).status).toBe(ServingStatus.SERVING);
    expect(Object.keys((await health.list({})).statuses).sort()).toEqual(["", CATALOG]);
  });

  it("answers NOT_FOUND for a service it does not serve", async () => {
    const error = await health.check({ service: "nope.v1.NopeService" }).catch((e: grpc.ServiceError) => e);
    expect((error as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
  });

  it("serves /healthz and /readyz on the admin port", async () => {
    const base = `http://127.0.0.1:${service.adminPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "SERVING" });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it("tells watchers NOT_SERVING at shutdown and ends their streams, a watcher of a name it does not serve too", async () => {
    const watcher = new HealthClient(service.address, grpc.credentials.createInsecure());
    const watch = (name: string) => {
      const seen: ServingStatus[] = [];
      const stream = watcher.watch({ service: name });
      const ended = new Promise<void>((resolve) => {
        stream.on("data", (response: HealthCheckResponse) => seen.push(response.status));
        stream.on("end", resolve);
        stream.on("error", () => resolve());
      });
      return { seen, ended };
    };
    const known = watch(CATALOG);
    // Names the server does not have are told so and held open, keyed by nothing (health.ts).
    const unknown = Array.from({ length: 50 }, (_, index) => watch(`made.up.v1.Service${index}`));
    await expect.poll(() => known.seen).toEqual([ServingStatus.SERVING]);
    await expect.poll(() => unknown.every((watched) => watched.seen[0] === ServingStatus.SERVICE_UNKNOWN)).toBe(true);
    await service.stop();
    await Promise.all([known.ended, ...unknown.map((watched) => watched.ended)]);
    watcher.close();
    expect(known.seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    expect(unknown.map((watched) => watched.seen)).toEqual(unknown.map(() => [ServingStatus.SERVICE_UNKNOWN]));
  });
});

describe("health while the database is not ready", () => {
  // A PostgreSQL "server" that accepts connections and never answers: the
  // service must sit NOT_SERVING, refuse business calls, and give up cleanly
  // when the connection drops.
  let silentDb: Server;
  const sockets: Socket[] = [];
  let starting: Promise<unknown>;
  let address: string;
  let adminPort: number;

  beforeAll(async () => {
    silentDb = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silentDb.listen(0, "127.0.0.1", resolve));
    const dbPort = (silentDb.address() as { port: number }).port;
    [address, adminPort] = [`127.0.0.1:${await freePort()}`, await freePort()];
    starting = startTestService(
      "catalog",
      { migrationsDir, services: [catalogService] },
      {
        GRPC_ADDR: address,
        ADMIN_ADDR: `127.0.0.1:${adminPort}`,
        DATABASE_URL: `postgres://bazaar:secret@127.0.0.1:${dbPort}/catalog`,
      },
    ).then(
      () => "started",
      (error: Error) => error,
    );
  });
  afterAll(() => silentDb?.close());

  it("is NOT_SERVING, answers UNAVAILABLE, readyz 503, healthz 200", async () => {
    const health = createClient(HealthService, address, { deadlineMs: 2000 });
    await expect.poll(() => health.check({ service: "" }).then((r) => r.status), { timeout: 10_000 }).toBe(
      ServingStatus.NOT_SERVING,
    );
    health.close();

    const catalog = createClient(CatalogServiceService, address, { deadlineMs: 2000 });
    const error = await catalog.getProduct({ id: "v60-dripper" }).catch((e: grpc.ServiceError) => e);
    catalog.close();
    expect((error as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    expect((error as grpc.ServiceError).details).toBe("bazaar.catalog.v1.CatalogService is starting");

    expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status).toBe(200);
  });

  it("fails to start, releasing its ports, when the database goes away", async () => {
    sockets.forEach((socket) => socket.destroy());
    silentDb.close();
    const outcome = await starting;
    expect(outcome).toBeInstanceOf(Error);
    const health = createClient(HealthService, address, { deadlineMs: 1000 });
    const error = await health.check({ service: "" }).catch((e: grpc.ServiceError) => e);
    health.close();
    expect((error as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
  });
});
