import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { type z } from "zod";
import { serviceConfig } from "@bazaar/shop/config";
import { catalogConfig } from "../../../services/catalog/src/config.js";
import { consoleConfig } from "../../../services/console/src/config.js";
import { gatewayConfig } from "../../../services/gateway/src/config.js";
import { ordersConfig } from "../../../services/orders/src/config.js";
import { paymentsConfig } from "../../../services/payments/src/config.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** Every process the shop deploys, with the schema its main.ts validates its environment with. */
export const CONFIG_SCHEMAS: Record<string, z.ZodObject> = {
  catalog: catalogConfig,
  inventory: serviceConfig(),
  orders: ordersConfig,
  payments: paymentsConfig,
  notifications: serviceConfig(),
  gateway: gatewayConfig,
};
export const SERVICE_NAMES = Object.keys(CONFIG_SCHEMAS);
/** The services that own a database (all but the gateway). */
export const DATABASE_OWNERS = SERVICE_NAMES.filter((name) => name !== "gateway");

/**
 * The development console (services/console) and its schema: docker compose and the
 * Kubernetes dev overlay run it, production never does, so it is not one of the
 * processes above, which every deployment runs.
 */
export const CONSOLE = { name: "console", config: consoleConfig } as const;

/** Variables naming where a process itself listens; every other *_ADDR is something it dials. */
export const LISTEN_VARIABLES = new Set(["GRPC_ADDR", "ADMIN_ADDR", "HTTP_ADDR"]);

export function readRepoFile(path: string): string {
  return readFileSync(join(ROOT, path), "utf8");
}

export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Why a check cannot run here, or undefined when it can. In CI (.ci/run installs
 * the tools) a missing tool fails the suite instead of skipping it quietly.
 */
export function missingTool(what: string, found: boolean, install: string): string | undefined {
  if (found) return undefined;
  const message = `${what} is not installed (${install}); skipping`;
  if (process.env.CI) throw new Error(`${message} is not allowed in CI: .ci/run must install it`);
  console.warn(message);
  return message;
}

/** docker-compose.yml as compose reads it (YAML 1.1 merge keys `<<: *anchor` applied). */
export function loadCompose(): { services: Record<string, ComposeService>; volumes?: Record<string, unknown> } {
  return parse(readRepoFile("docker-compose.yml"), { merge: true }) as { services: Record<string, ComposeService> };
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string | number> | string[];
  env_file?: string | string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  volumes?: string[];
  user?: string;
}

/**
 * A value of docker-compose.yml with compose's interpolation applied: ${NAME},
 * ${NAME:-default} (unset or empty), ${NAME-default} (unset), and $$ for a dollar,
 * from `shell` (by default nothing set, as on a machine that exports none of them).
 */
export function interpolate(value: string, shell: Record<string, string | undefined> = {}): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}|\$(\w+)/g, (match, braced?: string, operator?: string, fallback?: string, bare?: string) => {
    if (match === "$$") return "$";
    const found = shell[(braced ?? bare)!];
    if (operator === ":-") return found === undefined || found === "" ? fallback! : found;
    if (operator === "-") return found === undefined ? fallback! : found;
    return found ?? "";
  });
}

/**
 * A compose service's environment as strings, whichever of the two forms it is written in, over its env_file(s),
 * as compose does: its values interpolated from `shell` (by default nothing set).
 */
export function composeEnv(service: ComposeService, shell: Record<string, string | undefined> = {}): Record<string, string> {
  const files = service.env_file === undefined ? [] : [service.env_file].flat();
  const fromFiles = Object.assign({}, ...files.map((file) => parseEnv(readRepoFile(file)))) as Record<string, string>;
  const env = service.environment ?? {};
  const written = Array.isArray(env)
    ? Object.fromEntries(env.map((entry) => [entry.split("=")[0]!, entry.slice(entry.indexOf("=") + 1)]))
    : Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value)]));
  return { ...fromFiles, ...Object.fromEntries(Object.entries(written).map(([name, value]) => [name, interpolate(value, shell)])) };
}

/** How this machine renders a kustomization: a standalone kustomize, or kubectl's built-in one. */
export function kustomizeCommand(): { command: string; args: (dir: string) => string[] } | undefined {
  const kubectl = onPath("kubectl");
  if (kubectl) return { command: kubectl, args: (dir) => ["kustomize", dir] };
  const kustomize = onPath("kustomize");
  if (kustomize) return { command: kustomize, args: (dir) => ["build", dir] };
  return undefined;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // Each kind's own shape; the tests read what they need and the schemas check the rest.
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** `kubectl kustomize deploy/k8s/overlays/<overlay>`, parsed. */
export function renderOverlay(overlay: string): K8sObject[] {
  return parseYamlStream(kustomize(overlay).stdout) as K8sObject[];
}

/** What kustomize says about an overlay besides the objects: its warnings (deprecated fields, for one). */
export function overlayWarnings(overlay: string): string {
  return kustomize(overlay).stderr.trim();
}

function kustomize(overlay: string): { stdout: string; stderr: string } {
  const renderer = kustomizeCommand();
  if (!renderer) throw new Error("no kubectl or kustomize on PATH");
  const dir = join(ROOT, "deploy", "k8s", "overlays", overlay);
  const result = spawnSync(renderer.command, renderer.args(dir), { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${renderer.command} ${renderer.args(dir).join(" ")} failed:\n${result.stderr}`);
  return result;
}

export function parseYamlStream(text: string): unknown[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(document.errors.map((error) => error.message).join("\n"));
      return document.toJS() as unknown;
    })
    .filter((value) => value !== null && value !== undefined);
}

/** "host:port" → its parts; undefined when it is not one. */
export function hostPort(address: string): { host: string; port: number } | undefined {
  const match = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
}

/**
 * Everything a process dials, read from its environment: gRPC peers (*_ADDR),
 * NATS (every URL of NATS_URL), PostgreSQL (DATABASE_URL's host and port), and
 * the console's: HTTP URLs (*_URL) and lists of name=host:port (*_ADDRS).
 */
export function dialedAddresses(env: Record<string, string>): { variable: string; host: string; port: number; database?: string }[] {
  const dialed: { variable: string; host: string; port: number; database?: string }[] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (variable.endsWith("_ADDR") && !LISTEN_VARIABLES.has(variable)) {
      const address = hostPort(value);
      if (!address) throw new Error(`${variable}=${value} is not host:port`);
      dialed.push({ variable, ...address });
    } else if (variable.endsWith("_ADDRS")) {
      for (const entry of value.split(",").filter((candidate) => candidate.trim() !== "")) {
        const address = hostPort(entry.slice(entry.indexOf("=") + 1).trim());
        if (!entry.includes("=") || !address) throw new Error(`${variable}: ${entry} is not name=host:port`);
        dialed.push({ variable: `${variable} ${entry.slice(0, entry.indexOf("=")).trim()}`, ...address });
      }
    } else if (variable.endsWith("_URL") && /^https?:/.test(value)) {
      const parsed = new URL(value);
      dialed.push({ variable, host: parsed.hostname, port: Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80)) });
    } else if (variable === "NATS_URL") {
      for (const url of value.split(",")) {
        const parsed = new URL(url.trim());
        dialed.push({ variable, host: parsed.hostname, port: Number(parsed.port || 4222) });
      }
    } else if (variable === "DATABASE_URL" && /^postgres(ql)?:/.test(value)) {
      const parsed = new URL(value);
      dialed.push({ variable, host: parsed.hostname, port: Number(parsed.port || 5432), database: parsed.pathname.slice(1) });
    }
  }
  return dialed;
}
