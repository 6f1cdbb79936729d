import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./process.js";

/**
 * A real nats-server with JetStream on a free port of 127.0.0.1, its store in
 * a temporary directory. restart() stops and starts it on the same port and
 * store (a NATS outage); stop() ends it and deletes the store.
 */
export interface TestNats {
  url: string;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestNats(): Promise<TestNats> {
  const port = await freePort();
  const monitor = await freePort();
  const store = mkdtempSync(join(tmpdir(), "bazaar-nats-"));
  let server: ChildProcess | undefined;

  const startServer = async () => {
    server = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), "-sd", store], {
      stdio: "ignore",
    });
    server.on("error", () => {});
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error("nats-server exited at start (is it installed? apt-get install -y nats-server)");
      try {
        if ((await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error("nats-server did not become healthy");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stopServer = async () => {
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((resolve) => server!.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  };

  await startServer();
  return {
    url: `nats://127.0.0.1:${port}`,
    startServer,
    stopServer,
    async stop() {
      await stopServer();
      rmSync(store, { recursive: true, force: true });
    },
  };
}
