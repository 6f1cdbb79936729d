/**
 * The local mesh runner behind `make up`, `make down`, `make status` and `make logs`:
 * one PostgreSQL cluster (a database and a login per service), nats-server, every
 * service and the HTTP gateway as background processes, with pid files and logs
 * in .run/ and the data (the cluster's, NATS's) in .data/.
 *
 * Usage: node --conditions=bazaar-source --import tsx scripts/mesh.ts up|down|status|logs
 */
import { spawn, spawnSync } from "node:child_process";
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthService } from "@bazaar/gen/grpc/health/v1/health";
import { openDatabase } from "@bazaar/runtime/db/database";
import { runningPostmaster, startCluster, stopCluster } from "@bazaar/runtime/db/postgres-cluster";
import { ensureOwnDatabase } from "@bazaar/runtime/db/provision";
import { createClient } from "@bazaar/runtime/grpc/client";
import { isRunning } from "@bazaar/runtime/process";
import { createTransport, type Transport } from "@bazaar/runtime/security/transport";
import { CONSOLE_HTTP_PORT, GATEWAY_HTTP_PORT, NATS_MONITOR_PORT, NATS_PORT, POSTGRES_PORT } from "@bazaar/shop/ports";
import { ensureCertificates } from "./certs/issue.js";
import { devDatabasePassword } from "./dev-env.js";
import { entryOf, launchMesh, type LaunchedProcess, nodeArgsOf, type Placement } from "./launch.js";
import { MESH_IDENTITIES, PORTS, SERVICE_NAMES, SHOP_CONSOLE, SHOP_EDGE, type ServiceName } from "./shop.js";

// Paths come from the repository root, so the runner works from any directory.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUN_DIR = join(ROOT, ".run");
const LOG_DIR = join(RUN_DIR, "logs");
const DATA_DIR = join(ROOT, ".data");
const NATS_URL = `nats://127.0.0.1:${NATS_PORT}`;
// The cluster's data and its port (POSTGRES_PORT moves it off a PostgreSQL that already has 5432).
const POSTGRES_DATA_DIR = join(DATA_DIR, "postgres");
const POSTGRES_PORT_IN_USE = Number(process.env.POSTGRES_PORT) || POSTGRES_PORT;
// Mutual TLS, as in compose and Kubernetes: `up` issues what is missing (`make certs` does the same).
const TLS_DIR = join(ROOT, "certs");
// TLS_MODE=insecure in the environment reaches every process; the runner's own health checks follow it.
const TLS_MODE = process.env.TLS_MODE === "insecure" ? "insecure" : "mtls";
// Unset or not a number: 30 s.
const START_TIMEOUT_MS = Number(process.env.MESH_START_TIMEOUT_MS) || 30_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 200;

/** One process of the mesh: how to start it and how to tell that it is ready. */
interface Component {
  name: string;
  address: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** What `status` prints: "SERVING", "NOT_SERVING", "unreachable", ... */
  health(): Promise<string>;
}

function natsComponent(): Component {
  const listen = ["-a", "127.0.0.1", "-p", String(NATS_PORT), "-m", String(NATS_MONITOR_PORT)];
  return {
    name: "nats",
    address: NATS_URL,
    command: "nats-server",
    // deploy/nats/nats.conf, as compose runs it: mutual TLS, a user per service with its permissions.
    args:
      TLS_MODE === "mtls"
        ? ["-c", join(ROOT, "deploy", "nats", "nats.conf"), ...listen]
        : ["-js", "-sd", join(DATA_DIR, "nats"), ...listen],
    env: {
      ...process.env,
      NATS_STORE_DIR: join(DATA_DIR, "nats"),
      NATS_TLS_CA: join(TLS_DIR, "ca.pem"),
      NATS_TLS_CERT: join(TLS_DIR, "nats.pem"),
      NATS_TLS_KEY: join(TLS_DIR, "nats-key.pem"),
    },
    health: () => httpHealth(`http://127.0.0.1:${NATS_MONITOR_PORT}/healthz`),
  };
}

/** "SERVING" when `url` answers 200; a refused connection while starting is normal. */
async function httpHealth(url: string): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return response.status === 200 ? "SERVING" : `healthz answered ${response.status}`;
  } catch {
    return "unreachable";
  }
}

/** `make up FAULTS=1`: the services take faults from the console (development only; off unless asked for). */
const FAULTS = process.env.FAULTS === "1" ? "1" : "0";

/** What `make up` gives every process: its NATS, certs/, TLS_MODE and LOG_LEVEL from the environment, and FAULTS. */
const placement: Placement = {
  natsUrl: NATS_URL,
  tlsDir: TLS_DIR,
  env: { LOG_LEVEL: process.env.LOG_LEVEL ?? "info", TLS_MODE, BAZAAR_FAULTS: FAULTS },
};

/** A service on its ports of the port map, as `status` reports it. */
function serviceComponent(name: ServiceName, env: NodeJS.ProcessEnv = {}): Component {
  const address = `127.0.0.1:${PORTS[name].grpc}`;
  return { name, address, command: process.execPath, args: nodeArgsOf(name), env, health: () => grpcHealth(address, name) };
}

/**
 * The HTTP gateway, started after the services it calls. Its own /healthz is its
 * readiness here: it does not wait for the services (their readiness is theirs).
 */
function gatewayComponent(env: NodeJS.ProcessEnv = {}): Component {
  const address = `127.0.0.1:${GATEWAY_HTTP_PORT}`;
  return { name: SHOP_EDGE.name, address: `http://${address}`, command: process.execPath, args: nodeArgsOf(SHOP_EDGE.name), env, health: () => httpHealth(`http://${address}/healthz`) };
}

/** The development console, started last; its /readyz says it serves its page. */
function consoleComponent(env: NodeJS.ProcessEnv = {}): Component {
  const address = `127.0.0.1:${CONSOLE_HTTP_PORT}`;
  return { name: SHOP_CONSOLE.name, address: `http://${address}/console`, command: process.execPath, args: nodeArgsOf(SHOP_CONSOLE.name), env, health: () => httpHealth(`http://${address}/readyz`) };
}

const componentOf = (name: string, env: NodeJS.ProcessEnv) =>
  name === SHOP_EDGE.name ? gatewayComponent(env) : name === SHOP_CONSOLE.name ? consoleComponent(env) : serviceComponent(name as ServiceName, env);

/** The operator's certificates, read once (a poll every 200 ms need not reread them); throws while certs/ has none. */
let operator: Transport | undefined;
const operatorTransport = () => (operator ??= createTransport({ TLS_MODE, TLS_DIR }, "operator"));

/** The server-wide status from grpc.health.v1, asked with the operator's certificate; a refused connection while starting is normal. */
async function grpcHealth(address: string, service: ServiceName): Promise<string> {
  let client: ReturnType<typeof createClient<typeof HealthService>> | undefined;
  try {
    const credentials = operatorTransport().client(service);
    client = createClient(HealthService, address, { deadlineMs: 1000, credentials, target: service });
    const { status } = await client.check({ service: "" });
    return ServingStatus[status] ?? String(status);
  } catch {
    return "unreachable";
  } finally {
    client?.close();
  }
}

/** The service's own database and login on the cluster (provisioned by `up`). */
function serviceDatabaseUrl(name: ServiceName): string {
  return `postgres://${name}:${devDatabasePassword(name)}@127.0.0.1:${POSTGRES_PORT_IN_USE}/${name}`;
}

/**
 * The PostgreSQL cluster in .data/postgres: made on first use, started unless it
 * runs, then one database and login per service (kept when they exist). Its pid
 * file and log sit in .run/ beside the others'.
 */
async function startPostgres(services: readonly ServiceName[], started: string[]): Promise<void> {
  const cluster = await startCluster({
    dataDir: POSTGRES_DATA_DIR,
    port: POSTGRES_PORT_IN_USE,
    portVariable: "POSTGRES_PORT",
    logFile: logFile("postgres"),
    auth: "password",
  });
  writeFileSync(pidFile("postgres"), `${cluster.pid}\n`);
  if (cluster.started) started.push("postgres");
  else console.log(`postgres is already running (pid ${cluster.pid})`);
  for (const name of services) await ensureOwnDatabase(cluster.superuserUrl(), name, devDatabasePassword(name));
  console.log(`${"postgres".padEnd(14)} ${`127.0.0.1:${cluster.port}`.padEnd(24)} SERVING (pid ${cluster.pid}, data in ${POSTGRES_DATA_DIR})`);
}

/** "SERVING" when a service's login can run a query on its own database. */
async function postgresHealth(): Promise<string> {
  try {
    const db = await openDatabase(serviceDatabaseUrl(SERVICE_NAMES[0]!));
    await db.close();
    return "SERVING";
  } catch (error) {
    return `unreachable (${(error as Error).message})`;
  }
}

const pidFile = (name: string) => join(RUN_DIR, `${name}.pid`);
const logFile = (name: string) => join(LOG_DIR, `${name}.log`);

function readPid(name: string): number | undefined {
  if (!existsSync(pidFile(name))) return undefined;
  const pid = Number(readFileSync(pidFile(name), "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Start detached with output appended to its log, so it outlives this script. */
function startInBackground(component: Component): number {
  const log = openSync(logFile(component.name), "a");
  const child = spawn(component.command, component.args, { cwd: ROOT, env: component.env, detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${component.name}`);
  writeFileSync(pidFile(component.name), `${child.pid}\n`);
  return child.pid;
}

/** Wait until `component` is SERVING; throws with the reason if it exits or the deadline passes. */
async function waitUntilReady(component: Component, pid: number, deadline: number): Promise<void> {
  for (;;) {
    if (!isRunning(pid)) throw new Error(`${component.name} exited before it was ready`);
    const health = await component.health();
    if (health === "SERVING") return;
    if (Date.now() > deadline) throw new Error(`${component.name} not ready after ${START_TIMEOUT_MS} ms (health: ${health})`);
    await sleep(POLL_MS);
  }
}

function lastLogLines(name: string, count: number): string {
  if (!existsSync(logFile(name))) return "(no log)";
  return readFileSync(logFile(name), "utf8").trimEnd().split("\n").slice(-count).join("\n");
}

/** SIGTERM, give it STOP_TIMEOUT_MS to drain, then SIGKILL; always removes the pid file. PostgreSQL stops through pg_ctl. */
async function stop(name: string): Promise<void> {
  if (name === "postgres") return stopPostgres();
  const pid = readPid(name);
  if (pid !== undefined && isRunning(pid)) {
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (isRunning(pid) && Date.now() < deadline) await sleep(100);
    if (isRunning(pid)) {
      console.log(`${name}: still running after ${STOP_TIMEOUT_MS} ms, sending SIGKILL`);
      process.kill(pid, "SIGKILL");
      while (isRunning(pid)) await sleep(50);
    }
    console.log(`stopped ${name} (pid ${pid})`);
  } else {
    console.log(`${name} was not running`);
  }
  rmSync(pidFile(name), { force: true });
}

/** `pg_ctl stop -m fast`: sessions end, what was committed stays. */
function stopPostgres(): void {
  const pid = runningPostmaster(POSTGRES_DATA_DIR);
  if (pid === undefined) console.log("postgres was not running");
  else {
    stopCluster(POSTGRES_DATA_DIR);
    console.log(`stopped postgres (pid ${pid})`);
  }
  rmSync(pidFile("postgres"), { force: true });
}

/** The component's pid: started now, unless its pid file points at a live process. */
function ensureStarted(component: Component, started: string[]): number {
  const running = readPid(component.name);
  if (running !== undefined && isRunning(running)) {
    console.log(`${component.name} is already running (pid ${running})`);
    return running;
  }
  started.push(component.name);
  return startInBackground(component);
}

async function up(): Promise<number> {
  if (!onPath("nats-server")) {
    console.error("nats-server is not on PATH. Install it:\n  Debian/Ubuntu: sudo apt-get install -y nats-server\n  macOS:         brew install nats-server");
    return 1;
  }
  const unbuilt = [...SERVICE_NAMES, SHOP_EDGE.name, SHOP_CONSOLE.name].filter((name) => !existsSync(entryOf(name)));
  if (unbuilt.length > 0) {
    console.error(`not built: ${unbuilt.join(", ")}; run \`make build\` first`);
    return 1;
  }
  mkdirSync(LOG_DIR, { recursive: true });
  const issued = ensureCertificates(TLS_DIR, MESH_IDENTITIES, { namespace: "bazaar" });
  if (issued.length > 0) console.log(`certs: issued ${issued.join(", ")} in ${TLS_DIR}`);
  // PostgreSQL and NATS first: services open their database and connect to NATS while they start.
  // Then the services, the gateway and the console through the mesh's launcher, all at once (their
  // ports are fixed, so each knows where the others will be); up returns once every one is SERVING.
  const deadline = Date.now() + START_TIMEOUT_MS;
  const started: string[] = [];
  const giveUp = async (message: string) => {
    console.error(message);
    // Leave nothing half-started: the gateway, then services, then NATS, as `down` does.
    for (const name of started.reverse()) await stop(name);
    return 1;
  };
  try {
    await startPostgres(SERVICE_NAMES, started).catch((error: Error) => Promise.reject(new Error(`postgres: ${error.message}`)));
    await startReady(natsComponent(), started, deadline);
  } catch (error) {
    return giveUp((error as Error).message);
  }
  if (!provisionNats(deadline)) return giveUp("NATS's streams could not be declared");
  try {
    await launchMesh({
      placement,
      place: (module) => ({ grpc: `127.0.0.1:${module.ports.grpc}`, admin: `127.0.0.1:${module.ports.admin}`, databaseUrl: serviceDatabaseUrl(module.name as ServiceName) }),
      edgeHttpAddress: `127.0.0.1:${GATEWAY_HTTP_PORT}`,
      console: { httpAddress: `127.0.0.1:${CONSOLE_HTTP_PORT}`, natsMonitorUrl: `http://127.0.0.1:${NATS_MONITOR_PORT}`, databaseAddr: `127.0.0.1:${POSTGRES_PORT_IN_USE}` },
      run: (name, env): Promise<LaunchedProcess> => startReady(componentOf(name, { ...process.env, ...env }), started, deadline),
    });
  } catch (error) {
    return giveUp((error as Error).message);
  }
  console.log(`console: http://127.0.0.1:${CONSOLE_HTTP_PORT}/console (the shop, the live mesh map, ${FAULTS === "1" ? "faults on" : "faults off: make up FAULTS=1 to cause them"})`);
  console.log(`logs in ${LOG_DIR} (make logs); stop with make down`);
  return 0;
}

/** Start `component` (unless it runs) and wait until it is SERVING; on failure, say why with its log's tail. */
async function startReady(component: Component, started: string[], deadline: number): Promise<LaunchedProcess> {
  const pid = ensureStarted(component, started);
  try {
    await waitUntilReady(component, pid, deadline);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- last 30 lines of ${logFile(component.name)} ---\n${lastLogLines(component.name, 30)}\n---`);
  }
  console.log(`${component.name.padEnd(14)} ${component.address.padEnd(24)} SERVING (pid ${pid})`);
  return {
    stop: async () => {
      // Only what this `up` started (one already running stays); then no longer one it stops when giving up.
      const index = started.indexOf(component.name);
      if (index < 0) return;
      started.splice(index, 1);
      await stop(component.name);
    },
  };
}

/** The streams, declared as nats-admin (shop/src/nats-admin.ts): the services may only look them up and publish. */
function provisionNats(deadline: number): boolean {
  const result = spawnSync(process.execPath, [join(ROOT, "shop", "dist", "nats-admin.js"), "provision"], {
    env: { ...process.env, NATS_URL, TLS_DIR, TLS_MODE },
    encoding: "utf8",
    timeout: Math.max(1000, deadline - Date.now()),
  });
  if (result.status === 0) return true;
  console.error(`nats-admin provision failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}${result.stderr}`);
  return false;
}

async function down(): Promise<number> {
  const names = existsSync(RUN_DIR) ? readdirSync(RUN_DIR).filter((file) => file.endsWith(".pid")).map((file) => file.slice(0, -4)) : [];
  if (names.length === 0) console.log("nothing is running");
  // The console and the gateway first, so in-flight requests still reach the services; then the
  // services (together, each drains on its own); then NATS, which they use while draining.
  if (names.includes("console")) await stop("console");
  if (names.includes("gateway")) await stop("gateway");
  await Promise.all(names.filter((name) => !["nats", "console", "gateway", "postgres"].includes(name)).map(stop));
  if (names.includes("nats")) await stop("nats");
  // PostgreSQL last: the services close their connections while they drain.
  if (names.includes("postgres") || runningPostmaster(POSTGRES_DATA_DIR) !== undefined) await stop("postgres");
  return 0;
}

async function status(): Promise<number> {
  const postmaster = runningPostmaster(POSTGRES_DATA_DIR);
  const postgresState = postmaster === undefined ? "stopped" : `running (pid ${postmaster})`;
  console.log(`${"postgres".padEnd(14)} ${`127.0.0.1:${POSTGRES_PORT_IN_USE}`.padEnd(24)} ${postgresState.padEnd(22)} ${postmaster === undefined ? "" : await postgresHealth()}`.trimEnd());
  for (const component of [natsComponent(), ...SERVICE_NAMES.map((name) => serviceComponent(name)), gatewayComponent(), consoleComponent()]) {
    const pid = readPid(component.name);
    const state = pid !== undefined && isRunning(pid) ? `running (pid ${pid})` : "stopped";
    const health = state === "stopped" ? "" : await component.health();
    console.log(`${component.name.padEnd(14)} ${component.address.padEnd(24)} ${state.padEnd(22)} ${health}`.trimEnd());
  }
  return 0;
}

function logs(): Promise<number> {
  const files = existsSync(LOG_DIR) ? readdirSync(LOG_DIR).filter((file) => file.endsWith(".log")).map((file) => join(LOG_DIR, file)) : [];
  if (files.length === 0) {
    console.error("no logs yet: run `make up` first");
    return Promise.resolve(1);
  }
  const tail = spawn("tail", ["-n", "20", "-F", ...files], { stdio: "inherit" });
  return new Promise((resolve) => tail.on("exit", (code) => resolve(code ?? 0)));
}

const commands: Record<string, () => Promise<number>> = { up, down, status, logs };
const command = commands[process.argv[2] ?? ""];
if (command === undefined) {
  console.error("usage: mesh.ts up|down|status|logs");
  process.exit(2);
}
// Exit explicitly: a gRPC channel being torn down must not keep the script alive.
process.exit(await command());
