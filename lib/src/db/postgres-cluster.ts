import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { isRunning } from "../process.js";
import { binariesReachableBy, executable, findPostgresBinaries, type PostgresBinaries } from "./postgres-binaries.js";

/**
 * A PostgreSQL cluster of our own, from the binaries npm ships: made with initdb
 * on first use, started with pg_ctl (which waits until the server accepts
 * connections), listening on 127.0.0.1 only, stopped with `pg_ctl stop -m fast`.
 * `make up` keeps one in .data/postgres; the tests and the benchmarks make a
 * throwaway one. What commonly goes wrong (the port taken, a stale lock file
 * after a kill -9, a data directory of another major version, no binaries for
 * this platform) stops it with a message that says what to do, and loses nothing.
 */
export interface ClusterOptions {
  /** The data directory: initdb makes it when it holds no cluster yet. */
  dataDir: string;
  /** The TCP port on 127.0.0.1. */
  port: number;
  /** The environment variable that chooses `port`, named when the port is taken. */
  portVariable?: string;
  /** The server's log. */
  logFile: string;
  /**
   * "password": every TCP login needs its password (scram-sha-256), the superuser's
   * made at initdb and kept beside the data directory; "trust": none (throwaway test clusters).
   */
  auth: "password" | "trust";
  /** More server settings (-c name=value), e.g. fsync=off for a throwaway cluster. */
  settings?: Record<string, string>;
}

export interface RunningCluster {
  port: number;
  /** The postmaster's process id (from postmaster.pid). */
  pid: number;
  /** Whether this call started it (false: it was already running on this data directory). */
  started: boolean;
  /** A connection string for the superuser (postgres). */
  superuserUrl(database?: string): string;
  /** A connection string for `user` with `password` on 127.0.0.1. */
  url(database: string, user: string, password?: string): string;
}

export class ClusterError extends Error {
  override name = "ClusterError";
}

export const SUPERUSER = "postgres";

/** The superuser's password, kept beside the data directory (mode 0600) when auth is "password". */
export const passwordFileOf = (dataDir: string) => `${dataDir}.password`;

/** Start the cluster in `dataDir` (initdb first if there is none); resolves once it accepts connections. */
export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const { dataDir, port } = options;
  const runner = serverRunner(dirname(dataDir));
  const binaries = binariesReachableBy(findPostgresBinaries(), runner.canExecute);
  const running = runningPostmaster(dataDir);
  if (running !== undefined) return cluster(options, running, false);

  checkMajorVersion(dataDir, binaries);
  if (!existsSync(join(dataDir, "PG_VERSION"))) initdb(options, binaries, runner);
  removeStaleLock(dataDir);
  if (!(await portIsFree(port))) {
    throw new ClusterError(
      `127.0.0.1:${port} is taken by another program, so PostgreSQL cannot listen there` +
        (options.portVariable ? `: set ${options.portVariable} to a free port` : ""),
    );
  }
  mkdirSync(dirname(options.logFile), { recursive: true });
  runner.own(options.logFile, () => writeFileSync(options.logFile, "", { flag: "a" }));
  const settings = { listen_addresses: "127.0.0.1", port: String(port), unix_socket_directories: "", ...options.settings };
  const serverOptions = Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value === "" ? "''" : value}`)
    .join(" ");
  const start = runner.run(join(binaries.bin, executable("pg_ctl")), ["start", "-D", dataDir, "-l", options.logFile, "-w", "-t", "60", "-s", "-o", serverOptions]);
  if (start.status !== 0) {
    throw new ClusterError(`PostgreSQL did not start (${(start.stderr || start.stdout).trim()}); its log: ${options.logFile}\n${tailOf(options.logFile)}`);
  }
  const pid = runningPostmaster(dataDir);
  if (pid === undefined) throw new ClusterError(`PostgreSQL started but left no postmaster.pid in ${dataDir}`);
  return cluster(options, pid, true);
}

/**
 * Stop the cluster in `dataDir` if it runs (fast: open sessions are ended, nothing
 * is lost), and return once its postmaster is gone: pg_ctl returns when the lock
 * file is, a moment before the process has exited.
 */
export function stopCluster(dataDir: string): void {
  const pid = runningPostmaster(dataDir);
  if (pid === undefined) return;
  const runner = serverRunner(dirname(dataDir));
  const binaries = binariesReachableBy(findPostgresBinaries(), runner.canExecute);
  const stop = runner.run(join(binaries.bin, executable("pg_ctl")), ["stop", "-D", dataDir, "-m", "fast", "-w", "-t", "60", "-s"]);
  if (stop.status !== 0 && runningPostmaster(dataDir) !== undefined) {
    throw new ClusterError(`pg_ctl stop failed: ${(stop.stderr || stop.stdout).trim()}`);
  }
  // pg_ctl returns once the lock file is gone, a moment before the postmaster has
  // exited. Wait on the process itself: while it exits its command line already
  // reads empty, so asking whether it is still postgres would answer too early.
  const deadline = Date.now() + 10_000;
  while (isRunning(pid) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
}

/** The postmaster serving `dataDir`, when one runs: postmaster.pid names a live postgres process. */
export function runningPostmaster(dataDir: string): number | undefined {
  const lock = join(dataDir, "postmaster.pid");
  if (!existsSync(lock)) return undefined;
  const pid = Number(readFileSync(lock, "utf8").split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 && isPostgres(pid) ? pid : undefined;
}

function cluster(options: ClusterOptions, pid: number, started: boolean): RunningCluster {
  const { port } = options;
  const url = (database: string, user: string, password?: string) =>
    `postgres://${encodeURIComponent(user)}${password === undefined ? "" : `:${encodeURIComponent(password)}`}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  const superuserPassword = options.auth === "password" ? readFileSync(passwordFileOf(options.dataDir), "utf8").trim() : undefined;
  return { port, pid, started, url, superuserUrl: (database = "postgres") => url(database, SUPERUSER, superuserPassword) };
}

function initdb(options: ClusterOptions, binaries: PostgresBinaries, runner: ServerRunner): void {
  const { dataDir } = options;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  runner.own(dataDir);
  const args = ["-D", dataDir, "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-instructions"];
  let passwordFile: string | undefined;
  if (options.auth === "password") {
    // The superuser's password, known only to whoever can read this file (0600, its owner).
    const password = crypto.getRandomValues(new Uint8Array(24)).reduce((text, byte) => text + byte.toString(16).padStart(2, "0"), "");
    writeFileSync(passwordFileOf(dataDir), `${password}\n`, { mode: 0o600 });
    // initdb reads it as the server's user: a copy that user can read, removed at once.
    passwordFile = join(dataDir, "..", `.initdb-password-${process.pid}`);
    runner.own(passwordFile, () => writeFileSync(passwordFile!, `${password}\n`, { mode: 0o600 }));
    args.push("--auth=scram-sha-256", `--pwfile=${passwordFile}`);
  } else {
    args.push("--auth=trust");
  }
  try {
    const made = runner.run(join(binaries.bin, executable("initdb")), args);
    if (made.status !== 0) throw new ClusterError(`initdb of ${dataDir} failed: ${(made.stderr || made.stdout).trim()}`);
  } finally {
    if (passwordFile) rmSync(passwordFile, { force: true });
  }
}

/** A data directory made by another PostgreSQL major version cannot be opened by these binaries: say so. */
function checkMajorVersion(dataDir: string, binaries: PostgresBinaries): void {
  const versionFile = join(dataDir, "PG_VERSION");
  if (!existsSync(versionFile)) return;
  const found = Number(readFileSync(versionFile, "utf8").trim());
  if (found !== binaries.major) {
    throw new ClusterError(
      `${dataDir} holds a PostgreSQL ${found} cluster, but the binaries are PostgreSQL ${binaries.major} ` +
        `(${binaries.packageVersion}). Keep its data with pg_dump from a PostgreSQL ${found} server and restore it after, ` +
        `or move ${dataDir} aside to start afresh.`,
    );
  }
}

/**
 * After a kill -9 the lock file stays behind. PostgreSQL removes a stale one itself,
 * unless its process id now belongs to another live process (ids are reused, and a
 * server user cannot even probe a root process): then it refuses to start. Any
 * postmaster.pid whose process is not a postgres is stale.
 */
function removeStaleLock(dataDir: string): void {
  const lock = join(dataDir, "postmaster.pid");
  if (existsSync(lock) && runningPostmaster(dataDir) === undefined) rmSync(lock);
}

/** A running process whose program is postgres (where /proc can tell). */
function isPostgres(pid: number): boolean {
  if (!isRunning(pid)) return false;
  if (process.platform !== "linux") return true; // no /proc to look in: trust the signal probe
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    return /(^|\/)postgres(\.exe)?$/.test(command);
  } catch {
    return false;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

function tailOf(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-5).join("\n");
  } catch {
    return "";
  }
}

/** Whether the user the server runs as may execute `path` (as root: the postgres or nobody user). */
export function serverCanExecute(path: string): boolean {
  return serverRunner(dirname(path)).canExecute(path);
}

/**
 * How the server's programs run. PostgreSQL refuses to run as root, so under root
 * (CI, a container) they run as the `postgres` user when the machine has one, else
 * as `nobody`, through setpriv; as anyone else, as themselves. When the data
 * directory sits where that user cannot pass (a checkout under /root), the server
 * gets CAP_DAC_READ_SEARCH, the right to look up paths and read, nothing more.
 */
interface ServerRunner {
  run(command: string, args: string[]): { status: number | null; stdout: string; stderr: string };
  /** Whether the server's user may execute `path` (every directory above it searchable). */
  canExecute(path: string): boolean;
  /** Make `path` (written by `write` first, if given) the server user's. */
  own(path: string, write?: () => void): void;
}

function serverRunner(parentOfDataDir: string): ServerRunner {
  const asIs = (command: string, args: string[]) => spawnSync(command, args, { encoding: "utf8" });
  if (process.getuid?.() !== 0) {
    return { run: asIs, canExecute: () => true, own: (_path, write) => write?.() };
  }
  const user = ["postgres", "nobody"].find((name) => asIs("id", ["-u", name]).status === 0);
  if (!user) throw new ClusterError("Running as root, and PostgreSQL refuses root: this machine has neither a postgres nor a nobody user to run it as");
  const uid = Number(asIs("id", ["-u", user]).stdout.trim());
  const gid = Number(asIs("id", ["-g", user]).stdout.trim());
  const as = (caps: boolean) => ["--reuid", String(uid), "--regid", String(gid), "--clear-groups", ...(caps ? ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"] : [])];
  const setpriv = (args: string[]) => {
    const ran = spawnSync("setpriv", args, { encoding: "utf8" });
    if (ran.error) throw new ClusterError(`Running as root, the server must run as ${user} through setpriv (util-linux), which is missing: ${ran.error.message}`);
    return ran;
  };
  const canExecute = (path: string) => setpriv([...as(false), "test", "-x", path]).status === 0;
  const needsCaps = !canExecute(parentOfDataDir);
  return {
    run: (command, args) => setpriv([...as(needsCaps), command, ...args]),
    canExecute,
    own: (path, write) => {
      write?.();
      chownSync(path, uid, gid);
    },
  };
}
