import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageDir } from "../package-dir.js";
import { type Database } from "./database.js";

/** The runtime's own tables (outbox, inbox), created in every service's database. */
export const RUNTIME_MIGRATIONS = join(packageDir("@bazaar/runtime"), "migrations");

/**
 * Apply `dir`'s *.sql files in file-name order (001_..., 002_...), each once,
 * recording what ran in schema_migrations. Everything runs in one transaction
 * under an advisory lock, so replicas starting together against one PostgreSQL
 * server migrate once and a failed migration leaves nothing half-done.
 * Returns the names it applied. `through` stops after that file: the schema
 * as an earlier version left it, for a test of the migrations that follow.
 */
export async function migrate(db: Database, dir: string, { through }: { through?: string } = {}): Promise<string[]> {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".sql") && (through === undefined || name <= through))
    .sort();
  return db.transaction(async (tx) => {
    await tx.query("select pg_advisory_xact_lock(hashtext('bazaar.schema_migrations'))");
    await tx.exec(
      "create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())",
    );
    const done = new Set((await tx.query<{ name: string }>("select name from schema_migrations")).map((row) => row.name));
    const applied: string[] = [];
    for (const name of files.filter((file) => !done.has(file))) {
      await tx.exec(readFileSync(join(dir, name), "utf8"));
      await tx.query("insert into schema_migrations (name) values ($1)", [name]);
      applied.push(name);
    }
    return applied;
  });
}

/**
 * A service's database as the runtime migrates it at start: the runtime's
 * tables, then the service's own from `dir` (`through` as for migrate).
 * Returns what it applied.
 */
export async function migrateService(db: Database, dir: string, options: { through?: string } = {}): Promise<string[]> {
  return [...(await migrate(db, RUNTIME_MIGRATIONS)), ...(await migrate(db, dir, options))];
}
