import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats } from "@bazaar/runtime/events/nats";
import { createLogger } from "@bazaar/runtime/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshCertificates } from "../support/certs.js";
import { startTestNats, type TestNats } from "../support/nats.js";
import { certificateFiles } from "../../scripts/certs/issue.js";
import { kustomizeCommand, missingTool, renderOverlay } from "./support/deploy.js";
import { layOutNatsPod, plaintextClient } from "./support/nats-config.js";

// The NATS config Kubernetes runs (deploy/k8s/overlays/dev, rendered), on a real
// nats-server: the ConfigMap and the Secret nats-tls laid out in a directory as the
// StatefulSet mounts them, with certificates from a test CA. Only the cluster block
// is left out: one node, and no route port (kubernetes-nats-cluster.test.ts runs it). Paths in the config are moved under
// that directory; one that is on no volume fails the test (the pod's root
// filesystem is read-only).

const renderer = kustomizeCommand();
const skip = missingTool("kubectl (or kustomize)", renderer !== undefined, "kubectl 1.21 or later, or kustomize 4 or later");

const CERTS = meshCertificates();
const logger = createLogger("kubernetes-nats-test", process.env.LOG_LEVEL ?? "silent");

describe.skipIf(skip)("NATS as Kubernetes runs it (deploy/k8s/base/nats.conf), on a real nats-server", () => {
  let root: string;
  let nats: TestNats;
  const podName = process.env.POD_NAME;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "bazaar-k8s-nats-"));
    const config = layOutNatsPod(renderOverlay("dev"), root, CERTS);
    // The StatefulSet's first pod; the config names the server after it.
    process.env.POD_NAME = "nats-0";
    nats = await startTestNats({ config });
  });
  afterAll(async () => {
    await nats?.stop();
    if (podName === undefined) delete process.env.POD_NAME;
    else process.env.POD_NAME = podName;
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("takes a service connected as the runtime connects it, as the user its certificate names", async () => {
    const connection = await connectNats(nats.url, "orders", logger, certificateFiles(CERTS, "orders"));
    try {
      expect((await nats.connections()).find((client) => client.name === "orders")?.user).toBe("orders");
    } finally {
      await connection.close();
    }
  });

  it("refuses a plaintext client: TLS comes first", async () => {
    const { info, rest } = await plaintextClient(nats.url);
    expect(info).toMatchObject({ tls_required: true, tls_verify: true });
    expect(rest).not.toContain("PONG");
  });
});
