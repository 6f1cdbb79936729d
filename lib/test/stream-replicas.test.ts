import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamOf } from "../src/events/event-type.js";
import { ensureStream } from "../src/events/nats.js";
import { freePort } from "./support/process.js";

// NATS_STREAM_REPLICAS against a real three-node JetStream cluster on
// 127.0.0.1 (as Kubernetes runs it): the streams nats-admin declares live on
// every node, and a stream made with one replica is scaled when the setting says more.

const nodes: ChildProcess[] = [];
const stores: string[] = [];
let connection: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  const ports = await Promise.all([0, 1, 2].map(async () => ({ client: await freePort(), cluster: await freePort(), monitor: await freePort() })));
  const routes = ports.map((port) => `nats://127.0.0.1:${port.cluster}`).join(",");
  ports.forEach((port, index) => {
    const store = mkdtempSync(join(tmpdir(), "bazaar-nats-cluster-"));
    stores.push(store);
    const args = ["-js", "-sd", store, "-n", `node-${index}`, "-a", "127.0.0.1", "-p", String(port.client), "-m", String(port.monitor)];
    const cluster = ["--cluster_name", "bazaar", "--cluster", `nats://127.0.0.1:${port.cluster}`, "--routes", routes];
    const node = spawn("nats-server", [...args, ...cluster], { stdio: "ignore" });
    node.on("error", () => {});
    nodes.push(node);
  });
  connection = await connect({ servers: ports.map((port) => `nats://127.0.0.1:${port.client}`), waitOnFirstConnect: true });
  jsm = await jetstreamManager(connection, { checkAPI: false });
  // The cluster elects its JetStream meta leader after the routes are up; until then, JetStream does not answer.
  await until(() => jsm.getAccountInfo(), 60_000);
}, 90_000);

/** Retry `attempt` until it resolves; throws its last error after `ms`. */
async function until(attempt: () => Promise<unknown>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

afterAll(async () => {
  await connection?.close();
  await Promise.all(nodes.map((node) => new Promise((resolve) => (node.exitCode !== null ? resolve(null) : (node.once("exit", resolve), node.kill("SIGTERM"))))));
  stores.forEach((store) => rmSync(store, { recursive: true, force: true }));
});

/** ensureStream (as its owner when `replicas` is given), retried while the cluster still settles (a fresh meta leader can answer "insufficient resources"). */
const ensure = (subject: string, replicas?: number) =>
  until(() => ensureStream(jsm, streamOf(subject), replicas === undefined ? undefined : { replicas, maxAgeMs: 3_600_000, maxBytes: 64 * 1024 ** 2 }), 30_000);

describe("stream replicas (NATS_STREAM_REPLICAS)", () => {
  it("declares a stream on three nodes when the setting says 3", async () => {
    await ensure("orders.order.placed", 3);
    const info = await jsm.streams.info("ORDERS");
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas ?? []).toHaveLength(2); // the leader plus two replicas
  });

  it("scales a stream made with one replica, and a consumer's look-up (no setting) leaves it as it is", async () => {
    await ensure("payments.payment.captured", 1);
    expect((await jsm.streams.info("PAYMENTS")).config.num_replicas).toBe(1);
    await ensure("payments.payment.captured", 3);
    expect((await jsm.streams.info("PAYMENTS")).config.num_replicas).toBe(3);
    await ensure("payments.payment.captured");
    expect((await jsm.streams.info("PAYMENTS")).config.num_replicas).toBe(3);
  });
});
