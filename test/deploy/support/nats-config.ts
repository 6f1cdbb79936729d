import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { type K8sObject } from "./deploy.js";

/**
 * Just enough of the nats-server config format to check the deploy files:
 * comment lines, `include`, top-level blocks and `key: value` lines. Top-level
 * blocks are the ones that start at column 0, as in deploy/nats/nats.conf and
 * deploy/k8s/base/nats.conf.
 */

/** The config without its comment lines (they mention braces, paths and route URLs). */
export function withoutComments(config: string): string {
  return config
    .split("\n")
    .filter((line) => !/^\s*(#|\/\/)/.test(line))
    .join("\n");
}

/** The files a config includes, as written (relative to the config's directory). */
export function includesOf(config: string): string[] {
  return [...withoutComments(config).matchAll(/^\s*include\s+["']?([^\s"';]+)["']?\s*;?\s*$/gm)].map((match) => match[1]!);
}

/** Where the top-level block `name { ... }` is: from its name to its closing brace. */
function blockRange(config: string, name: string): { start: number; open: number; end: number } | undefined {
  const head = new RegExp(`^${name}\\s*[:=]?\\s*\\{`, "m").exec(config);
  if (!head) return undefined;
  const open = head.index + head[0].length;
  let depth = 1;
  for (let at = open; at < config.length; at++) {
    if (config[at] === "{") depth++;
    if (config[at] === "}" && --depth === 0) return { start: head.index, open, end: at + 1 };
  }
  throw new Error(`block ${name} { is never closed`);
}

/** The inside of the top-level block `name { ... }` of a config without comments, or undefined. */
export function blockOf(config: string, name: string): string | undefined {
  const text = withoutComments(config);
  const range = blockRange(text, name);
  return range && text.slice(range.open, range.end - 1);
}

/** The config without comments and without its top-level block `name { ... }`. */
export function withoutBlock(config: string, name: string): string {
  const text = withoutComments(config);
  const range = blockRange(text, name);
  return range ? text.slice(0, range.start) + text.slice(range.end) : text;
}

/** The value of `key: value` (or `key = value`) in a block's text, unquoted. */
export function valueOf(block: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*[:=]\\s*["']?([^"'\\s]+)["']?\\s*$`, "m").exec(block)?.[1];
}

interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string };
  emptyDir?: object;
}
interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

/**
 * NATS as the rendered manifests run it: the StatefulSet's container, its volumes
 * and mounts, the config file it is started with and the ConfigMap that file
 * comes from (found through the volume: the generated name carries a hash).
 */
export function natsPod(objects: K8sObject[]) {
  const statefulSet = objects.find((object) => object.kind === "StatefulSet" && object.metadata.name === "nats");
  if (!statefulSet) throw new Error("no StatefulSet nats");
  const pod = statefulSet.spec.template.spec;
  const container = pod.containers.find((candidate: { name: string }) => candidate.name === "nats");
  const volumes = pod.volumes as Volume[];
  const mounts = container.volumeMounts as VolumeMount[];
  const command = container.command as string[];
  const configFile = command[command.indexOf("--config") + 1]!;
  const configVolume = volumes.find((volume) => volume.configMap)!;
  const configMount = mounts.find((mount) => mount.name === configVolume.name)!;
  const configMap = objects.find((object) => object.kind === "ConfigMap" && object.metadata.name === configVolume.configMap!.name);
  if (!configMap?.data) throw new Error(`no ConfigMap ${configVolume.configMap!.name}`);
  return { statefulSet, container, volumes, mounts, configFile, configMount, configMap: configMap as K8sObject & { data: Record<string, string> } };
}

/**
 * A directory that holds what a NATS pod of `objects` (rendered manifests) sees
 * at each of its mount paths: the ConfigMap's keys, the Secret nats-tls's files
 * (what scripts/k8s-dev-secrets.sh puts in it: ca.pem, nats.pem, nats-key.pem
 * from `certs`; `certificate` puts another identity's there), empty directories
 * for the rest. The cluster block is left out unless `cluster` says keep it.
 * Returns the path of the config file in it, the config's own paths moved into
 * it; a path on no volume of the pod throws (its root filesystem is read-only).
 */
export function layOutNatsPod(objects: K8sObject[], root: string, certs: string, options: { cluster?: boolean; certificate?: string } = {}): string {
  const { volumes, mounts, configFile, configMap } = natsPod(objects);
  const certificate = options.certificate ?? "nats";
  for (const mount of mounts) {
    const dir = join(root, mount.mountPath);
    mkdirSync(dir, { recursive: true });
    const volume = volumes.find((candidate) => candidate.name === mount.name);
    if (volume?.configMap) for (const [key, value] of Object.entries(configMap.data)) writeFileSync(join(dir, key), value);
    if (volume?.secret) {
      copyFileSync(join(certs, "ca.pem"), join(dir, "ca.pem"));
      copyFileSync(join(certs, `${certificate}.pem`), join(dir, "nats.pem"));
      copyFileSync(join(certs, `${certificate}-key.pem`), join(dir, "nats-key.pem"));
    }
  }
  const onVolume = (path: string) => mounts.some((mount) => path === mount.mountPath || path.startsWith(`${mount.mountPath}/`));
  const text = configMap.data[configFile.split("/").pop()!]!;
  const config = (options.cluster ? withoutComments(text) : withoutBlock(text, "cluster")).replace(/^(\s*\w+\s*[:=]\s*)(\/[^/\s]\S*)\s*$/gm, (_line, key: string, path: string) => {
    if (!onVolume(path)) throw new Error(`${path}: on no volume of the pod`);
    return `${key}${join(root, path)}`;
  });
  writeFileSync(join(root, configFile), config);
  return join(root, configFile);
}

/**
 * Speak plain NATS protocol: the server's INFO line (none from a port that
 * starts with the TLS handshake), then whatever it says to CONNECT and PING
 * until it hangs up.
 */
export async function plaintextClient(url: string): Promise<{ info: Record<string, unknown> | undefined; rest: string }> {
  const { hostname, port } = new URL(url);
  const socket = createConnection({ host: hostname, port: Number(port) });
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
  socket.on("connect", () => socket.write('CONNECT {"verbose":false}\r\nPING\r\n'));
  socket.on("error", () => {});
  await new Promise((resolve) => socket.on("close", resolve));
  const [info, ...rest] = text.split("\r\n");
  const parsed = info?.startsWith("INFO ") ? (JSON.parse(info.replace(/^INFO /, "")) as Record<string, unknown>) : undefined;
  return { info: parsed, rest: parsed ? rest.join("\r\n") : text };
}
