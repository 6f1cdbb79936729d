import { spawnSync } from "node:child_process";
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { join, posix } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { parseConfig } from "@bazaar/runtime/config";
import { DEV_MODE_VARIABLE, FAULTS_VARIABLE } from "@bazaar/runtime/dev-mode";
import { CONSOLE_HTTP_PORT, GATEWAY_HTTP_PORT, NATS_MONITOR_PORT } from "@bazaar/shop/ports";
import { PORTS } from "../../scripts/shop.js";
import {
  CONFIG_SCHEMAS,
  CONSOLE,
  type ComposeService,
  composeEnv,
  DATABASE_OWNERS,
  dialedAddresses,
  hostPort,
  LISTEN_VARIABLES,
  loadCompose,
  missingTool,
  onPath,
  readRepoFile,
  ROOT,
  SERVICE_NAMES,
} from "./support/deploy.js";
import { includesOf } from "./support/nats-config.js";
import { devEnvFile } from "../../scripts/dev-env.js";

const compose = loadCompose();
const services = compose.services;

/** The volumes a compose service mounts from certs/ (`make certs`). */
const certificateMounts = (service: ComposeService) => (service.volumes ?? []).filter((volume) => volume.startsWith("./certs/"));

/** The ports each compose service listens on: its own *_ADDR for ours, the config or image default for the infrastructure. */
function listeningPorts(name: string, service: ComposeService): number[] {
  if (service.image?.startsWith("nats:")) return ["port", "http_port"].map((key) => Number(new RegExp(`^${key}:\\s*(\\d+)`, "m").exec(readRepoFile("deploy/nats/nats.conf"))?.[1]));
  if (service.image?.startsWith("postgres:")) return [5432];
  const env = composeEnv(service);
  const ports = [...LISTEN_VARIABLES].flatMap((variable) => (env[variable] ? [hostPort(env[variable])!.port] : []));
  if (ports.length === 0) throw new Error(`${name}: no listen address and not known infrastructure`);
  return ports;
}

function dependsOn(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, "service_started"]));
  return Object.fromEntries(Object.entries(deps).map(([name, { condition }]) => [name, condition]));
}

/** Every compose service `name` waits for to be healthy: directly, or through one it waits for. */
function healthyBefore(name: string, found = new Set<string>()): Set<string> {
  for (const [dependency, condition] of Object.entries(dependsOn(services[name]!)))
    if (condition === "service_healthy" && !found.has(dependency)) healthyBefore(dependency, found.add(dependency));
  return found;
}

/** The schema a compose service's process checks its environment with: the six deployed everywhere, and the console. */
const schemaOf = (name: string) => (name === CONSOLE.name ? CONSOLE.config : CONFIG_SCHEMAS[name]!);

/** Who takes faults on purpose with BAZAAR_FAULTS=1: the services (their admin ports) and the console that switches them. */
const FAULT_TAKERS = [...DATABASE_OWNERS, CONSOLE.name];

describe("docker-compose.yml", () => {
  const dockerCompose = onPath("docker-compose");
  const skipV1 = missingTool("docker-compose", dockerCompose !== undefined, "apt-get install -y docker-compose");
  it.skipIf(skipV1)("is accepted by `docker-compose config -q`", () => {
    const result = spawnSync(dockerCompose!, ["config", "-q"], { cwd: ROOT, encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  // The v2 plugin is optional here (no Docker engine), so only checked when present.
  const docker = onPath("docker");
  const hasPlugin = docker !== undefined && spawnSync(docker, ["compose", "version"], { encoding: "utf8" }).status === 0;
  it.skipIf(!hasPlugin)("is accepted by `docker compose config -q` (the v2 plugin)", () => {
    const result = spawnSync(docker!, ["compose", "config", "-q"], { cwd: ROOT, encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("runs every service from the one Dockerfile, with its SERVICE build argument", () => {
    // Others (Prometheus, Grafana) may run beside them; these must.
    expect(Object.keys(services)).toEqual(expect.arrayContaining([...SERVICE_NAMES, "nats", "postgres"]));
    for (const name of SERVICE_NAMES) {
      expect(services[name]!.build, name).toMatchObject({ context: ".", dockerfile: "Dockerfile", args: { SERVICE: name } });
      expect(services[name]!.image, name).toBe(`bazaar/${name}:dev`);
    }
  });

  it("gives every service an environment its config schema accepts", () => {
    for (const name of SERVICE_NAMES) {
      const env = composeEnv(services[name]!);
      expect(() => parseConfig(CONFIG_SCHEMAS[name]!, env), name).not.toThrow();
      // Reachable from other containers: a service binding 127.0.0.1 would be alone in its container.
      for (const variable of LISTEN_VARIABLES) if (env[variable]) expect(env[variable], `${name} ${variable}`).toMatch(/^0\.0\.0\.0:/);
    }
  });

  it("listens on the port map (each service's module, the gateway's in shop/src/ports.ts) and publishes it on 127.0.0.1 for grpcurl and curl", () => {
    const expected: Record<string, number> = { ...Object.fromEntries(Object.entries(PORTS).map(([name, ports]) => [name, ports.grpc])), gateway: GATEWAY_HTTP_PORT };
    for (const [name, port] of Object.entries(expected)) {
      const env = composeEnv(services[name]!);
      expect(hostPort(env.GRPC_ADDR ?? env.HTTP_ADDR!)?.port, name).toBe(port);
      expect(services[name]!.ports, name).toEqual([`127.0.0.1:${port}:${port}`]);
    }
  });

  it("points every address at a compose service listening on that port, and waits for it to be healthy", () => {
    for (const name of SERVICE_NAMES) {
      const service = services[name]!;
      const dialed = dialedAddresses(composeEnv(service));
      expect(dialed.length, `${name} dials nothing`).toBeGreaterThan(0);
      for (const { variable, host, port } of dialed) {
        const target = services[host];
        expect(target, `${name} ${variable}: no compose service "${host}"`).toBeDefined();
        expect(listeningPorts(host, target!), `${name} ${variable}: ${host} does not listen on ${port}`).toContain(port);
        expect(dependsOn(service)[host], `${name} must depend on ${host} being healthy`).toBe("service_healthy");
      }
    }
  });

  it("gives each service its own database and user, created by deploy/postgres/init.sql", () => {
    const init = readRepoFile("deploy/postgres/init.sql");
    for (const name of DATABASE_OWNERS) {
      const url = new URL(composeEnv(services[name]!).DATABASE_URL!);
      expect(url.pathname, name).toBe(`/${name}`);
      expect(url.username, name).toBe(name);
      expect(init).toContain(`CREATE ROLE ${name} LOGIN PASSWORD '${decodeURIComponent(url.password)}';`);
      expect(init).toContain(`CREATE DATABASE ${name} OWNER ${name};`);
    }
    expect(composeEnv(services.gateway!).DATABASE_URL).toBeUndefined();
  });

  it("gives the gateway deploy/dev.env's token key, from the file rather than written out", () => {
    expect(services.gateway!.env_file).toBe("deploy/dev.env");
    expect(JSON.stringify(services.gateway!.environment)).not.toContain("AUTH_JWT_SECRET");
    expect(composeEnv(services.gateway!).AUTH_JWT_SECRET).toBe(devEnvFile().AUTH_JWT_SECRET);
  });

  it("allows development-only settings (BAZAAR_DEV_MODE=1) in every service: its passwords and key are dev.env's", () => {
    for (const name of SERVICE_NAMES) expect(composeEnv(services[name]!)[DEV_MODE_VARIABLE], name).toBe("1");
    // Set where development settings are meant, not carried in by the file that holds them.
    expect(devEnvFile()[DEV_MODE_VARIABLE]).toBeUndefined();
  });

  it("mounts into each service only the CA and its own certificate and key, read-only, where TLS_DIR points", () => {
    for (const name of SERVICE_NAMES) {
      const env = composeEnv(services[name]!);
      expect(env.TLS_DIR, name).toBe("/certs");
      const files = ["ca.pem", `${name}.pem`, `${name}-key.pem`];
      expect(certificateMounts(services[name]!).sort(), name).toEqual(files.map((file) => `./certs/${file}:${posix.join(env.TLS_DIR!, file)}:ro`).sort());
    }
    // Nor does anything else get someone else's key.
    for (const [name, service] of Object.entries(services))
      for (const volume of certificateMounts(service)) expect(["ca.pem", `${name}.pem`, `${name}-key.pem`], `${name}: ${volume}`).toContain(volume.split(":")[0]!.slice("./certs/".length));
  });

  it("runs every service as the owner of certs/ (CERTS_UID:CERTS_GID), by default the image's user, so it can read its 0600 key", () => {
    const imageUser = [...readRepoFile("Dockerfile").matchAll(/^USER\s+(\d+):(\d+)$/gm)].at(-1);
    const [uid, gid] = [imageUser?.[1], imageUser?.[2]];
    expect(uid, "the image's USER").toBeDefined();
    for (const name of SERVICE_NAMES) expect(services[name]!.user, name).toBe(`\${CERTS_UID:-${uid}}:\${CERTS_GID:-${gid}}`);
  });

  it("never turns mutual TLS off", () => {
    for (const [name, service] of Object.entries(services)) expect(composeEnv(service).TLS_MODE, name).not.toBe("insecure");
    for (const name of SERVICE_NAMES) expect(parseConfig(CONFIG_SCHEMAS[name]!, composeEnv(services[name]!)).TLS_MODE, name).toBe("mtls");
  });

  it("gives NATS its own certificate at the paths deploy/nats/nats.conf reads from its environment", () => {
    const config = readRepoFile("deploy/nats/nats.conf");
    const env = composeEnv(services.nats!);
    // An unquoted `name: $VARIABLE` value; a `$` inside a quoted subject is not one. Unset, nats-server will not start.
    for (const [, variable] of config.matchAll(/^\s*\w+\s*[:=]\s*\$(\w+)\s*$/gm)) expect(env[variable!], `nats.conf needs ${variable}`).toBeDefined();
    // Where each of certs/ is mounted, and which of them a tls { } key names, through the variable it reads.
    const sourceAt = new Map(certificateMounts(services.nats!).map((volume) => [volume.split(":")[1]!, volume.split(":")[0]!]));
    const fileOf = (key: string) => sourceAt.get(env[new RegExp(`^\\s*${key}\\s*[:=]\\s*\\$(\\w+)\\s*$`, "m").exec(config)?.[1] ?? ""] ?? "");
    expect({ ca: fileOf("ca_file"), cert: fileOf("cert_file"), key: fileOf("key_file") }).toEqual({ ca: "./certs/ca.pem", cert: "./certs/nats.pem", key: "./certs/nats-key.pem" });
    expect(services.nats!.volumes).toContain("nats-data:/data");
    expect(env.NATS_STORE_DIR).toMatch(/^\/data\//);
  });

  it("mounts next to nats.conf what it includes: the real file, which deploy/nats links to for `make up`", () => {
    const mounts = (services.nats!.volumes ?? []).map((volume) => volume.split(":"));
    const configDir = posix.dirname(mounts.find(([source]) => source === "./deploy/nats/nats.conf")![1]!);
    const includes = includesOf(readRepoFile("deploy/nats/nats.conf"));
    expect(includes.length).toBeGreaterThan(0);
    for (const file of includes) {
      const target = posix.join(configDir, file);
      const mount = mounts.find(([, candidate]) => candidate === target);
      expect(mount, `${file} is not mounted next to nats.conf`).toEqual([expect.any(String), target, "ro"]);
      const source = join(ROOT, mount![0]!);
      // Docker gets a file, not a link (a checkout without links would have a text file there) ...
      expect(lstatSync(source).isSymbolicLink(), mount![0]).toBe(false);
      // ... the one nats-server reads through deploy/nats when `make up` runs it, by a relative link.
      const link = join(ROOT, "deploy/nats", file);
      expect(realpathSync(link), file).toBe(realpathSync(source));
      if (lstatSync(link).isSymbolicLink()) expect(posix.isAbsolute(readlinkSync(link)), `${file} links by an absolute path`).toBe(false);
    }
  });

  it("health-checks its infrastructure (the services' check is the image's HEALTHCHECK)", () => {
    expect(services.nats!.command).toContain("/etc/nats/nats.conf");
    expect(services.nats!.healthcheck?.test.join(" ")).toContain(":8222/healthz");
    expect(services.postgres!.healthcheck?.test.join(" ")).toContain("pg_isready");
  });
});

describe("docker-compose.yml: the development console", () => {
  const console_ = () => {
    const service = services[CONSOLE.name];
    if (!service) throw new Error(`docker-compose.yml has no service "${CONSOLE.name}"`);
    return service;
  };

  it("runs from the one Dockerfile, as the owner of certs/, with BAZAAR_DEV_MODE=1 and an environment its config schema accepts", () => {
    const service = console_();
    expect(service.build).toMatchObject({ context: ".", dockerfile: "Dockerfile", args: { SERVICE: CONSOLE.name } });
    expect(service.image).toBe(`bazaar/${CONSOLE.name}:dev`);
    expect(service.user).toBe(services.gateway!.user);
    const env = composeEnv(service);
    expect(env[DEV_MODE_VARIABLE]).toBe("1");
    const config = parseConfig(CONSOLE.config, env);
    expect(config.BAZAAR_DEV_MODE).toBe(true);
    expect(config.TLS_MODE).toBe("mtls");
    // The same environment without the flag is refused: the console is a development tool throughout.
    expect(() => parseConfig(CONSOLE.config, { ...env, [DEV_MODE_VARIABLE]: "0" })).toThrow(DEV_MODE_VARIABLE);
  });

  it("listens on its port of shop/src/ports.ts on all interfaces, published on 127.0.0.1", () => {
    const service = console_();
    expect(composeEnv(service).HTTP_ADDR).toBe(`0.0.0.0:${CONSOLE_HTTP_PORT}`);
    expect(service.ports).toEqual([`127.0.0.1:${CONSOLE_HTTP_PORT}:${CONSOLE_HTTP_PORT}`]);
  });

  it("signs its demo customers' tokens with the gateway's key, deploy/dev.env's, from the file rather than written out", () => {
    const service = console_();
    expect(service.env_file).toBe("deploy/dev.env");
    expect(JSON.stringify(service.environment)).not.toContain("AUTH_JWT_SECRET");
    expect(composeEnv(service).AUTH_JWT_SECRET).toBe(composeEnv(services.gateway!).AUTH_JWT_SECRET);
  });

  it("mounts only the CA and its own certificate and key, read-only, where TLS_DIR points", () => {
    const service = console_();
    const env = composeEnv(service);
    expect(env.TLS_DIR).toBe("/certs");
    const files = ["ca.pem", `${CONSOLE.name}.pem`, `${CONSOLE.name}-key.pem`];
    expect(certificateMounts(service).sort()).toEqual(files.map((file) => `./certs/${file}:${posix.join(env.TLS_DIR!, file)}:ro`).sort());
  });

  it("watches every process of the mesh on its admin port (the gateway's: its HTTP port), as each listens", () => {
    const env = composeEnv(console_());
    const admin = Object.fromEntries(env.MESH_ADMIN_ADDRS!.split(",").map((entry) => entry.split("=") as [string, string]));
    expect(Object.keys(admin).sort()).toEqual([...SERVICE_NAMES].sort());
    for (const name of SERVICE_NAMES) {
      const own = composeEnv(services[name]!);
      const port = hostPort(own.ADMIN_ADDR ?? own.HTTP_ADDR!)!.port;
      expect(port, name).toBe(name === "gateway" ? GATEWAY_HTTP_PORT : PORTS[name as keyof typeof PORTS].admin);
      expect(admin[name], name).toBe(`${name}:${port}`);
    }
  });

  it("points every address at a compose service listening on that port, healthy before the console starts", () => {
    const service = console_();
    const dialed = dialedAddresses(composeEnv(service));
    expect(dialed.map(({ host, port }) => `${host}:${port}`)).toEqual(
      expect.arrayContaining([`gateway:${GATEWAY_HTTP_PORT}`, `inventory:${PORTS.inventory.grpc}`, "nats:4222", `nats:${NATS_MONITOR_PORT}`, "postgres:5432"]),
    );
    // It waits for the two it calls; the rest they wait for themselves.
    expect(dependsOn(service)).toMatchObject({ gateway: "service_healthy", inventory: "service_healthy" });
    const waitedFor = healthyBefore(CONSOLE.name);
    for (const { variable, host, port } of dialed) {
      const target = services[host];
      expect(target, `console ${variable}: no compose service "${host}"`).toBeDefined();
      expect(listeningPorts(host, target!), `console ${variable}: ${host} does not listen on ${port}`).toContain(port);
      expect(waitedFor.has(host), `console ${variable}: ${host} may not be healthy yet when it starts`).toBe(true);
    }
  });

  it(`passes ${FAULTS_VARIABLE} from FAULTS to the console and every service: off by default, on with \`FAULTS=1 docker compose up\``, () => {
    for (const name of FAULT_TAKERS) {
      const off = composeEnv(services[name]!);
      expect(off[FAULTS_VARIABLE], name).toBe("0");
      expect(parseConfig(schemaOf(name), off).BAZAAR_FAULTS, name).toBe(false);
      const on = composeEnv(services[name]!, { FAULTS: "1" });
      expect(on[FAULTS_VARIABLE], name).toBe("1");
      // Taken: each runs with BAZAAR_DEV_MODE=1, without which BAZAAR_FAULTS=1 is refused.
      expect(parseConfig(schemaOf(name), on).BAZAAR_FAULTS, name).toBe(true);
    }
  });

  const dockerCompose = onPath("docker-compose");
  const skipV1 = missingTool("docker-compose", dockerCompose !== undefined, "apt-get install -y docker-compose");
  it.skipIf(skipV1)("is interpolated by docker-compose as these tests read it, FAULTS unset and FAULTS=1", () => {
    for (const shell of [{}, { FAULTS: "1" }]) {
      const { FAULTS: _ignored, ...inherited } = process.env;
      const result = spawnSync(dockerCompose!, ["config"], { cwd: ROOT, encoding: "utf8", env: { ...inherited, ...shell } });
      expect(result.status, result.stderr).toBe(0);
      const rendered = (parse(result.stdout) as { services: Record<string, ComposeService> }).services;
      for (const name of [...SERVICE_NAMES, CONSOLE.name]) expect(composeEnv(rendered[name]!), `${name} ${JSON.stringify(shell)}`).toEqual(composeEnv(services[name]!, shell));
    }
  });
});
