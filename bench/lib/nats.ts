import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsAdminConfig, parseConfig } from "@bazaar/runtime/config";
import { NATS_ADMIN, provisionStreams as provision } from "@bazaar/runtime/events/dead-letters";
import { connectNats } from "@bazaar/runtime/events/nats";
import { createLogger } from "@bazaar/runtime/logger";
import { certificateFiles } from "../../scripts/certs/issue.js";
import { freePort, httpOk, ROOT, type Started, startProcess, stopProcess, waitFor } from "./process.js";
import { SHOP_EVENT_STREAMS } from "@bazaar/shop/streams";

export interface BenchNats {
  /** tls://127.0.0.1:<port>: clients must present a certificate of the CA. */
  url: string;
  started: Started;
  stop(): Promise<void>;
}

/**
 * nats-server as deployed (deploy/nats/nats.conf, as `make up` runs it):
 * JetStream, mutual TLS with the certificates in `certs`, each client mapped
 * to the user named by its certificate with that user's permissions. Free
 * ports on 127.0.0.1. The store is `store` when given (kept: a mesh restarts
 * on its data), else a temporary directory deleted by stop().
 */
export async function startNats(options: { certs: string; store?: string; log?: string }): Promise<BenchNats> {
  const port = await freePort();
  const monitor = await freePort();
  const temporary = options.store ? undefined : mkdtempSync(join(tmpdir(), "bazaar-bench-nats-"));
  const store = options.store ?? temporary!;
  const started = startProcess(
    "nats",
    "nats-server",
    // The config names its store ($NATS_STORE_DIR): nats-server refuses -sd next to it.
    ["-c", join(ROOT, "deploy", "nats", "nats.conf"), "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor)],
    {
      NATS_STORE_DIR: store,
      NATS_TLS_CA: join(options.certs, "ca.pem"),
      NATS_TLS_CERT: join(options.certs, "nats.pem"),
      NATS_TLS_KEY: join(options.certs, "nats-key.pem"),
    },
    options.log ?? join(store, "nats.log"),
  );
  await waitFor(started, () => httpOk(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`));
  const url = `tls://127.0.0.1:${port}`;
  await provisionStreams(url, options.certs);
  return {
    url,
    started,
    async stop() {
      await stopProcess(started);
      if (temporary) rmSync(temporary, { recursive: true, force: true });
    },
  };
}

/** As `make up` does once NATS is up: nats-admin declares the streams (the services may only look them up). */
async function provisionStreams(url: string, certs: string): Promise<void> {
  const connection = await connectNats(url, NATS_ADMIN, createLogger(NATS_ADMIN, "silent"), certificateFiles(certs, NATS_ADMIN));
  try {
    await provision(await jetstreamManager(connection), parseConfig(natsAdminConfig(), {}), SHOP_EVENT_STREAMS);
  } finally {
    await connection.close();
  }
}
