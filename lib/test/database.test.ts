import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../src/db/database.js";
import { migrate } from "../src/db/migrate.js";
import { freshDatabase, recordingStatements } from "../src/testing.js";

function migrationsFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

describe("the database (PostgreSQL through DATABASE_URL)", () => {
  let url: string;
  let db: Database;
  beforeAll(async () => {
    url = await freshDatabase("contract");
    db = await openDatabase(url);
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

  it("prepares each query once per connection", async () => {
    const sql = "select $1::int + 1 as n";
    const prepared = await db.transaction(async (tx) => {
      for (let i = 0; i < 3; i++) expect(await tx.query(sql, [i])).toEqual([{ n: i + 1 }]);
      return tx.query("select count(*)::int as n from pg_prepared_statements where statement = $1", [sql]);
    });
    expect(prepared).toEqual([{ n: 1 }]);
  });

  it("joins a batch to a large table through its index, not by reading the table whole", async () => {
    await db.exec("create table lookups (id text primary key); insert into lookups select 'k' || n from generate_series(1, 20000) as n");
    const recorded = recordingStatements(db);
    const keys = Array.from({ length: 64 }, (_, n) => `k${n * 300 + 1}`);
    expect(await recorded.query("select t.id from unnest($1::text[]) as k(id) join lookups t using (id)", [keys])).toHaveLength(64);
    // With PostgreSQL's default random_page_cost (4) the custom plan reads all 20,000 rows.
    expect(await recorded.tablesReadWhole()).toEqual([]);
  });

  it("keeps the options PGOPTIONS and DATABASE_URL give beside its own session settings", async () => {
    const withOptions = new URL(url);
    withOptions.searchParams.set("options", "-c statement_timeout=1234");
    process.env.PGOPTIONS = "-c work_mem=8MB";
    const given = await openDatabase(withOptions.toString()).finally(() => delete process.env.PGOPTIONS);
    try {
      const settings = "select current_setting('statement_timeout') as timeout, current_setting('work_mem') as memory, current_setting('random_page_cost') as page";
      expect(await given.query(settings)).toEqual([{ timeout: "1234ms", memory: "8MB", page: "1.1" }]);
    } finally {
      await given.close();
    }
  });

  it("outlives the server dropping its idle connections", async () => {
    const pooled = await openDatabase(url);
    await Promise.all([1, 2, 3].map(() => pooled.query("select pg_sleep(0.05)"))); // several pooled connections, now idle
    await db.transaction((tx) =>
      tx.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"),
    );
    await expect.poll(() => pooled.query<{ n: number }>("select 1 as n").catch(() => []), { timeout: 10_000 }).toEqual([{ n: 1 }]);
    await pooled.close();
  });

  it("migrates once when replicas start together", async () => {
    const dir = migrationsFolder({
      "001_create.sql": "create table replicated (id text primary key);",
      "002_seed.sql": "insert into replicated values ('only once');",
    });
    const replicaUrl = await freshDatabase("replicas");
    const replicas = await Promise.all([1, 2, 3].map(() => openDatabase(replicaUrl)));
    const applied = await Promise.all(replicas.map((replica) => migrate(replica, dir)));
    expect(applied.flat().sort()).toEqual(["001_create.sql", "002_seed.sql"]);
    expect(await replicas[0]!.query("select id from replicated")).toEqual([{ id: "only once" }]);
    await Promise.all(replicas.map((replica) => replica.close()));
  });
});
