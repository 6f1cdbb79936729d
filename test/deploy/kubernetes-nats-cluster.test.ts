import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsAdminConfig, parseConfig } from "@bazaar/runtime/config";
import { NATS_ADMIN, provisionStreams } from "@bazaar/runtime/events/dead-letters";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshCertificates } from "../support/certs.js";
import { connectAs, startTestNats, type TestNats } from "../support/nats.js";
import { freePort } from "../../lib/test/support/process.js";
import { kustomizeCommand, missingTool, renderOverlay } from "./support/deploy.js";
import { blockOf, layOutNatsPod, natsPod, plaintextClient } from "./support/nats-config.js";
import { SHOP_EVENT_STREAMS } from "@bazaar/shop/streams";

// The NATS cluster as Kubernetes runs it: three real nats-servers on 127.0.0.1,
// each with the rendered config of deploy/k8s/overlays/dev laid out as its pod
// sees it (kubernetes-nats.test.ts), its cluster block included: routes over
// mutual TLS, a peer let in only when its certificate's subject is nats's.
// Only where the routes go changes: the pods' names become ports of 127.0.0.1.

const renderer = kustomizeCommand();
const skip = missingTool("kubectl (or kustomize)", renderer !== undefined, "apt-get install -y kubernetes-client");
const CERTS = meshCertificates();

const roots: string[] = [];
const nodes: TestNats[] = [];
let clusterPorts: number[] = [];

/** A node with the manifests' config and `certificate` as its nats.pem, routing to `routes`. */
async function startNode(name: string, clusterPort: number, routes: string, certificate = "nats", objects = renderOverlay("dev")): Promise<TestNats> {
  const root = mkdtempSync(join(tmpdir(), "bazaar-k8s-nats-cluster-"));
  roots.push(root);
  const config = layOutNatsPod(objects, root, CERTS, { cluster: true, certificate });
  // In the file, not by --cluster and --routes: a --cluster URL without credentials clears the route user.
  const local = readFileSync(config, "utf8")
    .replace(/^(\s*)port: 6222$/m, `$1host: 127.0.0.1\n$1port: ${clusterPort}`)
    .replace(/routes: \[[^\]]*\]/, `routes: [${routes}]`);
  writeFileSync(config, local);
  const node = await startTestNats({ config, env: { POD_NAME: name } });
  nodes.push(node);
  return node;
}

/** Retry `attempt` until it resolves; throws its last error after `ms`. */
async function until<T>(attempt: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

describe.skipIf(skip)("NATS routes as Kubernetes configures them (deploy/k8s/base/nats.conf), on three real nodes", () => {
  beforeAll(async () => {
    clusterPorts = await Promise.all([0, 1, 2].map(() => freePort()));
    const routes = clusterPorts.map((port) => `nats://127.0.0.1:${port}`).join(", ");
    await Promise.all(clusterPorts.map((port, index) => startNode(`nats-${index}`, port, routes)));
  }, 90_000);
  afterAll(async () => {
    for (const node of nodes) await node.stop();
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  it("routes to pod names the nats certificate of `make certs` carries", () => {
    const { configMap } = natsPod(renderOverlay("dev"));
    const cluster = blockOf(configMap.data["nats.conf"]!, "cluster")!;
    const hosts = [...cluster.matchAll(/nats:\/\/([^:\s]+):6222/g)].map((match) => match[1]!);
    expect(hosts).toEqual(["nats-0.nats-headless", "nats-1.nats-headless", "nats-2.nats-headless"]);
    const certificate = new X509Certificate(readFileSync(join(CERTS, "nats.pem")));
    for (const host of hosts) expect(certificate.checkHost(host), host).toBe(host);
  });

  it("forms the cluster over TLS routes: streams are replicated on all three nodes", async () => {
    const connection = await connectAs(nodes[0]!.url, CERTS, NATS_ADMIN, { waitOnFirstConnect: true });
    try {
      const jsm = await jetstreamManager(connection, { checkAPI: false });
      // The meta leader is elected once the routes are up; until then JetStream does not answer.
      await until(() => provisionStreams(jsm, parseConfig(natsAdminConfig(), { NATS_STREAM_REPLICAS: "3" }), SHOP_EVENT_STREAMS), 60_000);
      const info = await jsm.streams.info("DEAD_LETTERS");
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas ?? []).toHaveLength(2); // the leader plus two replicas
    } finally {
      await connection.close();
    }
  }, 90_000);

  it("refuses a route without TLS: it hangs up on plaintext", async () => {
    const { rest } = await plaintextClient(`nats://127.0.0.1:${clusterPorts[0]}`);
    expect(rest).not.toContain("PONG");
  });

  it("refuses a node whose certificate, though signed by the same CA, is not nats's", async () => {
    const intruder = await startNode("nats-intruder", await freePort(), `nats://127.0.0.1:${clusterPorts[0]}`, "orders");
    await expect.poll(() => intruder.log(), { timeout: 30_000 }).toMatch(/Route Error 'Authorization Violation'/);
  }, 60_000);
});
