import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { certificateFiles } from "../../scripts/certs/issue.js";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsAdminConfig, parseConfig } from "@bazaar/runtime/config";
import { NATS_ADMIN, provisionStreams } from "@bazaar/runtime/events/dead-letters";
import { natsTlsOptions } from "@bazaar/runtime/events/nats";
import { freePort, repoRoot } from "../../lib/test/support/process.js";
import { SHOP_EVENT_STREAMS } from "@bazaar/shop/streams";

/**
 * A real nats-server with JetStream on a free port of 127.0.0.1, its store in
 * a temporary directory. restart() stops and starts it on the same port and
 * store (a NATS outage); stop() ends it and deletes the store.
 */
export interface TestNats {
  url: string;
  /** http://127.0.0.1:port of its monitoring endpoint (/healthz, /varz). */
  monitorUrl: string;
  /** The open client connections: the name each client gave, the user the server authorized it as. */
  connections(): Promise<Array<{ name?: string; user?: string }>>;
  /** Wait until a client named `name` is connected (throws after 30 s). */
  connected(name: string): Promise<void>;
  stopServer(): Promise<void>;
  /** The last few KB the server logged (stderr). */
  log(): string;
  /** SIGKILL: no lame duck, no flush, a crash (chaos tests); startServer() brings it back on the same port and store. */
  killServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestNatsOptions {
  /**
   * A nats-server config file (relative to the repository), e.g.
   * "deploy/nats/nats.conf"; port, monitoring port and address still come
   * from the command line, the store from NATS_STORE_DIR. Unset: no config,
   * no TLS, no users.
   */
  config?: string;
  /** A directory of `make certs` files (ca.pem, nats.pem, nats-key.pem) for the config's NATS_TLS_* variables. */
  certs?: string;
  /** More command-line arguments (a cluster's --cluster and --routes) and environment variables (a config's $POD_NAME). */
  args?: string[];
  env?: Record<string, string>;
}

export async function startTestNats(options: TestNatsOptions = {}): Promise<TestNats> {
  const port = await freePort();
  const monitor = await freePort();
  const store = mkdtempSync(join(tmpdir(), "bazaar-nats-"));
  // A config names its store ($NATS_STORE_DIR) and nats-server refuses -sd next to it.
  const setup = options.config ? ["-c", resolve(repoRoot, options.config)] : ["-js", "-sd", store];
  const env = {
    ...process.env,
    ...options.env,
    NATS_STORE_DIR: store,
    ...(options.certs && {
      NATS_TLS_CA: join(options.certs, "ca.pem"),
      NATS_TLS_CERT: join(options.certs, "nats.pem"),
      NATS_TLS_KEY: join(options.certs, "nats-key.pem"),
    }),
  };
  let server: ChildProcess | undefined;
  let stderr = "";

  const startServer = async () => {
    stderr = "";
    server = spawn("nats-server", [...setup, "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), ...(options.args ?? [])], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    server.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    server.on("error", () => {});
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`nats-server exited at start (is it installed? apt-get install -y nats-server): ${stderr}`);
      try {
        if ((await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`nats-server did not become healthy: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const signal = async (name: NodeJS.Signals) => {
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server!.once("exit", resolve));
    server.kill(name);
    await exited;
  };
  const stopServer = () => signal("SIGTERM");

  const connections = async () => {
    const connz = (await (await fetch(`http://127.0.0.1:${monitor}/connz?auth=true`)).json()) as {
      connections?: Array<{ name?: string; authorized_user?: string }>;
    };
    return (connz.connections ?? []).map((connection) => ({ name: connection.name, user: connection.authorized_user }));
  };
  const connected = async (name: string) => {
    const deadline = Date.now() + 30_000;
    while (!(await connections()).some((connection) => connection.name === name)) {
      if (Date.now() > deadline) throw new Error(`no NATS client named ${name} connected`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  await startServer();
  const url = `${options.certs ? "tls" : "nats"}://127.0.0.1:${port}`;
  // As `make up` does once NATS is up: nats-admin declares the streams, which no service may.
  if (options.certs) await provisionAsAdmin(url, options.certs);
  return {
    // tls:// says what the client must do; nats.js takes its certificate from its own options.
    url,
    monitorUrl: `http://127.0.0.1:${monitor}`,
    startServer,
    stopServer,
    killServer: () => signal("SIGKILL"),
    log: () => stderr,
    connections,
    connected,
    async stop() {
      await stopServer();
      rmSync(store, { recursive: true, force: true });
    },
  };
}

/** Declare every stream with the default settings as nats-admin, the provisioning identity. */
export async function provisionAsAdmin(url: string, certs: string): Promise<void> {
  const connection = await connectAs(url, certs, NATS_ADMIN);
  try {
    await provisionStreams(await jetstreamManager(connection), parseConfig(natsAdminConfig(), {}), SHOP_EVENT_STREAMS);
  } finally {
    await connection.close();
  }
}

/**
 * A client connection as `identity`'s NATS user (deploy/nats/nats.conf maps its
 * certificate from `certs`), replies on its own inbox prefix as the config
 * requires: "operator" to read streams, a service to publish its events.
 */
export function connectAs(url: string, certs: string, identity: string, options: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  return connect({ servers: url, inboxPrefix: `_INBOX.${identity}`, tls: natsTlsOptions(certificateFiles(certs, identity)), ...options });
}
