import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats } from "@bazaar/runtime/events/nats";
import { createLogger } from "@bazaar/runtime/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testCertificates } from "../../lib/test/support/certs.js";
import { startTestNats, type TestNats } from "../../lib/test/support/nats.js";
import { certificateFiles } from "../../scripts/certs/issue.js";
import { kustomizeCommand, missingTool, renderOverlay } from "./support/deploy.js";
import { natsPod, withoutBlock } from "./support/nats-config.js";

// The NATS config Kubernetes runs (deploy/k8s/overlays/dev, rendered), on a real
// nats-server: the ConfigMap and the Secret nats-tls laid out in a directory as the
// StatefulSet mounts them, with certificates from a test CA. Only the cluster block
// is left out: one node, and no route port. Paths in the config are moved under
// that directory; one that is on no volume fails the test (the pod's root
// filesystem is read-only).

const renderer = kustomizeCommand();
const skip = missingTool("kubectl (or kustomize)", renderer !== undefined, "kubectl 1.21 or later, or kustomize 4 or later");

const CERTS = testCertificates();
const logger = createLogger("kubernetes-nats-test", process.env.LOG_LEVEL ?? "silent");

/**
 * A directory that holds what the NATS pod sees at each of its mount paths: the
 * ConfigMap's keys, the Secret's files (what scripts/k8s-dev-secrets.sh puts in
 * it: ca.pem, nats.pem, nats-key.pem from certs/), empty directories for the rest.
 * Returns the path of the config file in it, the config's own paths moved into it.
 */
function layOutPod(root: string): string {
  const { volumes, mounts, configFile, configMap } = natsPod(renderOverlay("dev"));
  for (const mount of mounts) {
    const dir = join(root, mount.mountPath);
    mkdirSync(dir, { recursive: true });
    const volume = volumes.find((candidate) => candidate.name === mount.name);
    if (volume?.configMap) for (const [key, value] of Object.entries(configMap.data)) writeFileSync(join(dir, key), value);
    if (volume?.secret) for (const file of ["ca.pem", "nats.pem", "nats-key.pem"]) copyFileSync(join(CERTS, file), join(dir, file));
  }
  const onVolume = (path: string) => mounts.some((mount) => path === mount.mountPath || path.startsWith(`${mount.mountPath}/`));
  const config = withoutBlock(configMap.data[configFile.split("/").pop()!]!, "cluster").replace(/^(\s*\w+\s*[:=]\s*)(\/\S+)\s*$/gm, (_line, key: string, path: string) => {
    if (!onVolume(path)) throw new Error(`${path}: on no volume of the pod`);
    return `${key}${join(root, path)}`;
  });
  writeFileSync(join(root, configFile), config);
  return join(root, configFile);
}

/** Speak plain NATS protocol: the server's INFO line, then whatever it says to CONNECT and PING until it hangs up. */
async function plaintextClient(url: string): Promise<{ info: Record<string, unknown>; rest: string }> {
  const { hostname, port } = new URL(url);
  const socket = createConnection({ host: hostname, port: Number(port) });
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    if (!text.includes("\r\n")) socket.write('CONNECT {"verbose":false}\r\nPING\r\n');
    text += chunk.toString();
  });
  socket.on("error", () => {});
  await new Promise((resolve) => socket.on("close", resolve));
  const [info, ...rest] = text.split("\r\n");
  return { info: JSON.parse(info!.replace(/^INFO /, "")) as Record<string, unknown>, rest: rest.join("\r\n") };
}

describe.skipIf(skip)("NATS as Kubernetes runs it (deploy/k8s/base/nats.conf), on a real nats-server", () => {
  let root: string;
  let nats: TestNats;
  const podName = process.env.POD_NAME;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "bazaar-k8s-nats-"));
    const config = layOutPod(root);
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
