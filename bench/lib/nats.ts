import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, httpOk, startProcess, stopProcess, waitFor } from "./process.js";

/** A throwaway nats-server with JetStream on free ports, its store in a temporary directory. */
export async function startNats(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const monitor = await freePort();
  const store = mkdtempSync(join(tmpdir(), "bazaar-bench-nats-"));
  const started = startProcess(
    "nats",
    "nats-server",
    ["-js", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), "-sd", store],
    {},
    join(store, "nats.log"),
  );
  await waitFor(started, () => httpOk(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`));
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: started.pid,
    async stop() {
      await stopProcess(started);
      rmSync(store, { recursive: true, force: true });
    },
  };
}
