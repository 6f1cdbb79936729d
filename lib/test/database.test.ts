import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogService } from "../../services/catalog/src/service.js";
import { migrationsDir as catalogMigrations } from "../../services/catalog/src/store.js";
import { type Database, openDatabase } from "../src/db/database.js";
import { migrate } from "../src/db/migrate.js";
import { createClient } from "../src/grpc/client.js";
import { startTestService } from "../src/testing.js";
import { startTestPostgres, type TestPostgres } from "./support/postgres.js";

function migrationsFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

/** The same behaviour from both backends: PGlite embedded and a real PostgreSQL server. */
function databaseContract(open: () => Promise<Database>) {
  let db: Database;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(() => db?.close());

  it("applies migrations in file-name order, each once", async () => {
    const dir = migrationsFolder({
      "002_add_price.sql": "alter table widgets add column price bigint not null default 0;",
      "001_widgets.sql": "create table widgets (id text primary key);",
    });
    expect(await migrate(db, dir)).toEqual(["001_widgets.sql", "002_add_price.sql"]);
    expect(await migrate(db, dir)).toEqual([]);
    writeFileSync(join(dir, "003_seed.sql"), "insert into widgets (id, price) values ('w1', 9007199254740991);");
    expect(await migrate(db, dir)).toEqual(["003_seed.sql"]);
  });

  it("returns bigint columns as numbers", async () => {
    expect(await db.query("select price from widgets where id = $1", ["w1"])).toEqual([{ price: 9007199254740991 }]);
  });

  it("rolls back every migration of a run when one fails", async () => {
    const dir = migrationsFolder({
      "001_gadgets.sql": "create table gadgets (id text primary key);",
      "002_broken.sql": "create tabel oops;",
    });
    await expect(migrate(db, dir)).rejects.toThrow();
    expect(await db.query("select to_regclass('gadgets') as t")).toEqual([{ t: null }]);
  });

  it("commits a transaction that resolves and rolls back one that throws", async () => {
    await db.transaction((tx) => tx.query("insert into widgets (id) values ('kept')"));
    await expect(
      db.transaction(async (tx) => {
        await tx.query("insert into widgets (id) values ('dropped')");
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    const ids = (await db.query<{ id: string }>("select id from widgets order by id")).map((r) => r.id);
    expect(ids).toEqual(["kept", "w1"]);
  });
}

describe("PGlite (embedded)", () => {
  databaseContract(() => openDatabase({ url: "memory://", dataDir: "" }));

  it("keeps its data in DATA_DIR across restarts", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "pglite-")), "catalog");
    const first = await openDatabase({ dataDir });
    await first.exec("create table kept (n int); insert into kept values (42);");
    await first.close();
    const second = await openDatabase({ dataDir });
    expect(await second.query("select n from kept")).toEqual([{ n: 42 }]);
    // Small shared buffers keep an idle service's memory down (see database.ts).
    expect(await second.query("show shared_buffers")).toEqual([{ shared_buffers: "16MB" }]);
    await second.close();
  });
});

describe("PostgreSQL server (DATABASE_URL)", () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startTestPostgres();
    await server.createDatabase("contract");
    await server.createDatabase("catalog");
  }, 60_000);
  afterAll(() => server?.stop());

  databaseContract(() => openDatabase({ url: server.url("contract"), dataDir: "" }));

  it("prepares each query once per connection", async () => {
    const db = await openDatabase({ url: server.url("contract"), dataDir: "" });
    const sql = "select $1::int + 1 as n";
    const prepared = await db.transaction(async (tx) => {
      for (let i = 0; i < 3; i++) expect(await tx.query(sql, [i])).toEqual([{ n: i + 1 }]);
      return tx.query("select count(*)::int as n from pg_prepared_statements where statement = $1", [sql]);
    });
    expect(prepared).toEqual([{ n: 1 }]);
    await db.close();
  });

  it("outlives the server dropping its idle connections", async () => {
    const db = await openDatabase({ url: server.url("contract"), dataDir: "" });
    await Promise.all([1, 2, 3].map(() => db.query("select pg_sleep(0.05)"))); // several pooled connections, now idle
    const admin = await openDatabase({ url: server.url("contract"), dataDir: "" });
    await admin.transaction((tx) =>
      tx.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"),
    );
    await expect.poll(() => db.query<{ n: number }>("select 1 as n").catch(() => []), { timeout: 10_000 }).toEqual([{ n: 1 }]);
    await db.close();
    await admin.close().catch(() => {});
  });

  it("migrates once when replicas start together", async () => {
    const replicas = await Promise.all([1, 2, 3].map(() => openDatabase({ url: server.url("catalog"), dataDir: "" })));
    const applied = await Promise.all(replicas.map((db) => migrate(db, catalogMigrations)));
    expect(applied.flat().sort()).toEqual(["001_create_products.sql", "002_seed_products.sql"]);
    await Promise.all(replicas.map((db) => db.close()));
  });

  it("serves the catalog from it", async () => {
    const service = await startTestService(
      "catalog",
      { migrationsDir: catalogMigrations, services: [catalogService] },
      { DATABASE_URL: server.url("catalog") },
    );
    const catalog = createClient(CatalogServiceService, service.address, { deadlineMs: 5000 });
    const { product } = await catalog.getProduct({ id: "chemex-6-cup" });
    expect(product?.price).toEqual({ currencyCode: "EUR", minorUnits: 4950 });
    expect((await catalog.listProducts({ pageSize: 100, pageToken: "" })).products.length).toBeGreaterThanOrEqual(20);
    catalog.close();
    await service.stop();
  });
});
