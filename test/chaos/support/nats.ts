import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../../lib/test/support/process.js";

/**
 * A real nats-server with JetStream on a free port, its store in `dir`, that
 * can be killed with SIGKILL (no lame-duck, no flush: a crash) and started
 * again on the same port and store.
 */
export interface ChaosNats {
  url: string;
  kill9(): Promise<void>;
  start(): Promise<void>;
  /** SIGTERM, for the end of the suite. */
  stop(): Promise<void>;
}

export async function startChaosNats(dir: string): Promise<ChaosNats> {
  const port = await freePort();
  const monitor = await freePort();
  const store = join(dir, "nats");
  mkdirSync(store, { recursive: true });
  let server: ChildProcess | undefined;

  const start = async () => {
    server = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), "-sd", store], { stdio: "ignore" });
    server.on("error", () => {});
    const deadline = Date.now() + 30_000;
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
  const signal = async (name: NodeJS.Signals) => {
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server!.once("exit", resolve));
    server.kill(name);
    await exited;
  };

  await start();
  return { url: `nats://127.0.0.1:${port}`, kill9: () => signal("SIGKILL"), start, stop: () => signal("SIGTERM") };
}
