import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";

/**
 * A brand-new PGlite cluster as a tarball, made once per PGlite version and
 * kept in the OS temp directory. Creating a cluster runs initdb in WebAssembly
 * (3-7 s of CPU on a small machine); unpacking this tarball takes well under a
 * second, which is what makes a first `make up` and the test suite quick.
 * Written to a temporary name and renamed, so a reader never sees half a file.
 */
export async function freshClusterTarball(): Promise<Blob> {
  const path = join(tmpdir(), `bazaar-pglite-${pgliteVersion()}-cluster.tar`);
  if (!existsSync(path)) {
    const db = await PGlite.create("memory://");
    const dump = await db.dumpDataDir("none");
    await db.close();
    const partial = `${path}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, path);
  }
  return new Blob([readFileSync(path)]);
}

function pgliteVersion(): string {
  // The package exports no package.json; find it above its entry point.
  let dir = dirname(createRequire(import.meta.url).resolve("@electric-sql/pglite"));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/** True when `dataDir` already holds a cluster (PostgreSQL writes PG_VERSION at initdb). */
export function hasCluster(dataDir: string): boolean {
  return existsSync(join(dataDir, "PG_VERSION"));
}
