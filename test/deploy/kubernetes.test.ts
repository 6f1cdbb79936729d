import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Secret, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseConfig } from "@bazaar/runtime/config";
import { GATEWAY_HTTP_PORT, PORTS } from "@bazaar/runtime/ports";
import {
  CONFIG_SCHEMAS,
  DATABASE_OWNERS,
  dialedAddresses,
  hostPort,
  type K8sObject,
  kustomizeCommand,
  LISTEN_VARIABLES,
  missingTool,
  readRepoFile,
  renderOverlay,
  SERVICE_NAMES,
} from "./support/deploy.js";

/**
 * The offline schemas: kubernetes-models ships the Kubernetes OpenAPI schemas
 * compiled to validators. They check types, required fields, enums and formats;
 * they do not reject unknown fields (a misspelt optional field passes).
 */
const SCHEMAS: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/ConfigMap": ConfigMap,
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/Service": Service,
};

/**
 * kustomize v5 wraps generated Secret data at 76 columns. The API server decodes it
 * with Go's encoding/base64, which skips line breaks; the schema's "byte" format
 * does not, so the breaks are removed before validation.
 */
function withoutBase64Breaks(object: K8sObject): K8sObject {
  if (object.kind !== "Secret" || !object.data) return object;
  return { ...object, data: Object.fromEntries(Object.entries(object.data).map(([key, value]) => [key, value.replace(/[\r\n]/g, "")])) };
}

type Labels = Record<string, string>;
interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface ContainerPort {
  name?: string;
  containerPort: number;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: unknown };
}
interface Container {
  name: string;
  ports?: ContainerPort[];
  env?: EnvVar[];
  [probe: string]: unknown;
}

/** The one Secret production must supply itself (managed PostgreSQL): key = service name. */
const EXTERNAL_SECRET = "bazaar-database";

function selects(selector: LabelSelector, labels: Labels): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpressions = (selector.matchExpressions ?? []).every((expression) => {
    if (expression.operator === "In") return expression.values!.includes(labels[expression.key] ?? "");
    if (expression.operator === "NotIn") return !expression.values!.includes(labels[expression.key] ?? "");
    if (expression.operator === "Exists") return expression.key in labels;
    return !(expression.key in labels);
  });
  return byLabels && byExpressions;
}

const workloadsOf = (objects: K8sObject[]) => objects.filter((object) => object.kind === "Deployment" || object.kind === "StatefulSet");
const podLabels = (workload: K8sObject): Labels => workload.spec.template.metadata.labels;
const containersOf = (workload: K8sObject): Container[] => workload.spec.template.spec.containers;

/** A container's environment with Secret references resolved; references to Secrets outside the manifests are returned apart. */
function environmentOf(container: Container, objects: K8sObject[]): { env: Record<string, string>; external: Record<string, { name: string; key: string }> } {
  const env: Record<string, string> = {};
  const external: Record<string, { name: string; key: string }> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    const ref = variable.valueFrom?.secretKeyRef;
    if (!ref) continue;
    const secret = objects.find((object) => object.kind === "Secret" && object.metadata.name === ref.name);
    if (!secret) {
      external[variable.name] = ref;
      continue;
    }
    const encoded = secret.data?.[ref.key];
    const value = encoded !== undefined ? Buffer.from(encoded.replace(/\s/g, ""), "base64").toString("utf8") : secret.stringData?.[ref.key];
    if (value === undefined) throw new Error(`${container.name} ${variable.name}: Secret ${ref.name} has no key ${ref.key}`);
    env[variable.name] = value;
  }
  return { env, external };
}

/** Where "host:port" lands: a Service of that name, its port, and the workloads (and container port) behind it. */
function resolve(objects: K8sObject[], host: string, port: number): { workload: K8sObject; containerPort: number }[] {
  const service = objects.find((object) => object.kind === "Service" && object.metadata.name === host);
  if (!service) throw new Error(`no Service "${host}"`);
  const servicePort = (service.spec.ports as { port: number; targetPort?: number | string }[]).find((candidate) => candidate.port === port);
  if (!servicePort) throw new Error(`Service "${host}" has no port ${port}`);
  const target = servicePort.targetPort ?? port;
  const backends = workloadsOf(objects)
    .filter((workload) => selects({ matchLabels: service.spec.selector }, podLabels(workload)))
    .flatMap((workload) =>
      containersOf(workload)
        .flatMap((container) => container.ports ?? [])
        .filter((candidate) => (typeof target === "number" ? candidate.containerPort === target : candidate.name === target))
        .map((candidate) => ({ workload, containerPort: candidate.containerPort })),
    );
  if (backends.length === 0) throw new Error(`Service "${host}" port ${port} (target ${target}) reaches no container port`);
  return backends;
}

/** Is TCP `port` on `target`'s pods open to `caller`'s pods under the NetworkPolicies? */
function allowed(objects: K8sObject[], caller: K8sObject, target: K8sObject, port: number): boolean {
  const policies = objects.filter((object) => object.kind === "NetworkPolicy" && selects(object.spec.podSelector, podLabels(target)));
  return policies.some((policy) =>
    (policy.spec.ingress ?? []).some(
      (rule: { from?: { podSelector?: LabelSelector }[]; ports?: { port: number }[] }) =>
        (rule.from === undefined || rule.from.some((peer) => peer.podSelector && selects(peer.podSelector, podLabels(caller)))) &&
        (rule.ports === undefined || rule.ports.some((candidate) => candidate.port === port)),
    ),
  );
}

interface Edge {
  caller: string;
  variable: string;
  target: K8sObject;
  port: number;
}

/** Every connection a service makes according to its environment, checked to land on a real container port. */
function edgesOf(objects: K8sObject[]): Edge[] {
  return SERVICE_NAMES.flatMap((name) => {
    const workload = workloadsOf(objects).find((candidate) => candidate.metadata.name === name)!;
    const { env } = environmentOf(containersOf(workload)[0]!, objects);
    return dialedAddresses(env).flatMap(({ variable, host, port }) => resolve(objects, host, port).map(({ workload: target, containerPort }) => ({ caller: name, variable, target, port: containerPort })));
  });
}

const renderer = kustomizeCommand();
const skip = missingTool("kubectl (or kustomize)", renderer !== undefined, "apt-get install -y kubernetes-client");

describe.skipIf(skip).each([
  { overlay: "dev", replicas: 1 },
  { overlay: "prod", replicas: 3 },
])("deploy/k8s/overlays/$overlay", ({ overlay, replicas }) => {
  const objects = skip ? [] : renderOverlay(overlay);
  const workload = (name: string) => workloadsOf(objects).find((candidate) => candidate.metadata.name === name)!;

  it("renders, and every object validates against its Kubernetes schema", () => {
    expect(objects.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const object of objects) {
      const schema = SCHEMAS[`${object.apiVersion}/${object.kind}`];
      if (!schema) problems.push(`${object.kind} ${object.metadata?.name}: no schema registered for ${object.apiVersion}`);
      else
        try {
          new schema(withoutBase64Breaks(object) as never).validate();
        } catch (error) {
          problems.push(`${object.kind} ${object.metadata.name}: ${(error as Error).message}`);
        }
    }
    expect(problems).toEqual([]);
  });

  it("puts everything in one namespace, which it creates", () => {
    const namespace = objects.find((object) => object.kind === "Namespace")!;
    for (const object of objects.filter((candidate) => candidate.kind !== "Namespace")) expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe(namespace.metadata.name);
  });

  it(`runs every service as a Deployment of ${replicas}, from its image, listening on the port map`, () => {
    for (const name of SERVICE_NAMES) {
      const deployment = workload(name);
      expect(deployment?.kind, name).toBe("Deployment");
      expect(deployment.spec.replicas, name).toBe(replicas);
      const [container] = containersOf(deployment);
      expect(container!.image, name).toMatch(new RegExp(`^bazaar/${name}:.+`));
      const { env } = environmentOf(container!, objects);
      const expected = name === "gateway" ? { HTTP_ADDR: GATEWAY_HTTP_PORT } : { GRPC_ADDR: PORTS[name as keyof typeof PORTS].grpc, ADMIN_ADDR: PORTS[name as keyof typeof PORTS].admin };
      for (const [variable, port] of Object.entries(expected)) expect(env[variable], `${name} ${variable}`).toBe(`0.0.0.0:${port}`);
    }
  });

  it("gives every service an environment its config schema accepts", () => {
    for (const name of SERVICE_NAMES) {
      const { env, external } = environmentOf(containersOf(workload(name))[0]!, objects);
      expect(() => parseConfig(CONFIG_SCHEMAS[name]!, env), name).not.toThrow();
      for (const variable of LISTEN_VARIABLES) if (env[variable]) expect(hostPort(env[variable])?.host, `${name} ${variable}`).toBe("0.0.0.0");
      // What the manifests do not carry is the production database Secret, one key per service.
      for (const [variable, ref] of Object.entries(external)) expect({ variable, ...ref }, name).toEqual({ variable: "DATABASE_URL", name: EXTERNAL_SECRET, key: name });
    }
  });

  it("reads DATABASE_URL from a Secret for every service that owns a database", () => {
    for (const name of DATABASE_OWNERS) {
      const variable = containersOf(workload(name))[0]!.env!.find((candidate) => candidate.name === "DATABASE_URL");
      expect(variable?.valueFrom?.secretKeyRef, name).toEqual({ name: EXTERNAL_SECRET, key: name });
      const { env } = environmentOf(containersOf(workload(name))[0]!, objects);
      if (env.DATABASE_URL) {
        const url = new URL(env.DATABASE_URL);
        expect([url.username, url.pathname], name).toEqual([name, `/${name}`]);
      }
    }
  });

  it("points every address at a Service, port and container that exist", () => {
    const edges = edgesOf(objects);
    const summary = new Set(edges.map((edge) => `${edge.caller} -> ${edge.target.metadata.name}:${edge.port}`));
    for (const expected of ["orders -> catalog:50051", "orders -> inventory:50052", "orders -> payments:50054", "gateway -> catalog:50051", "gateway -> orders:50053", "gateway -> notifications:50055", "inventory -> nats:4222"]) expect(summary).toContain(expected);
    if (overlay === "dev") for (const name of DATABASE_OWNERS) expect(summary).toContain(`${name} -> postgres:5432`);
  });

  it("lets through exactly the connections the environments make (NetworkPolicies)", () => {
    expect(objects.some((object) => object.kind === "NetworkPolicy" && Object.keys(object.spec.podSelector).length === 0 && object.spec.ingress === undefined)).toBe(true);
    const edges = edgesOf(objects);
    for (const edge of edges) expect(allowed(objects, workload(edge.caller), edge.target, edge.port), `${edge.caller} -> ${edge.target.metadata.name}:${edge.port} is blocked`).toBe(true);
    // And nothing else between the shop's pods, but NATS routes between its own nodes.
    const workloads = workloadsOf(objects);
    for (const caller of workloads)
      for (const target of workloads)
        for (const port of containersOf(target).flatMap((container) => (container.ports ?? []).map((candidate) => candidate.containerPort))) {
          const isEdge = edges.some((edge) => edge.caller === caller.metadata.name && edge.target === target && edge.port === port);
          const isPeer = caller === target && target.metadata.name === "nats" && port === 6222;
          const isEdgeService = target.metadata.name === "gateway";
          if (!isEdge && !isPeer && !isEdgeService) expect(allowed(objects, caller, target, port), `${caller.metadata.name} -> ${target.metadata.name}:${port} is open`).toBe(false);
        }
  });

  it("probes services with native gRPC health, and the gateway over HTTP", () => {
    for (const name of SERVICE_NAMES) {
      const [container] = containersOf(workload(name));
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const expected = name === "gateway" ? { httpGet: { port: "http" } } : { grpc: { port: PORTS[name as keyof typeof PORTS].grpc } };
        expect(container![probe], `${name} ${probe}`).toMatchObject(expected);
      }
    }
  });

  it("runs every container non-root on a read-only root filesystem, with requests and limits", () => {
    for (const object of workloadsOf(objects)) {
      const pod = object.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, object.metadata.name).toBe(true);
      for (const container of pod.containers) {
        expect(container.securityContext, object.metadata.name).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(Object.keys(container.resources?.requests ?? {}).sort(), object.metadata.name).toEqual(["cpu", "memory"]);
        expect(Object.keys(container.resources?.limits ?? {}).sort(), object.metadata.name).toEqual(["cpu", "memory"]);
      }
    }
    for (const name of SERVICE_NAMES) {
      const pod = workload(name).spec.template.spec;
      const tmp = pod.containers[0].volumeMounts.find((mount: { mountPath: string }) => mount.mountPath === "/tmp");
      expect(pod.volumes.find((volume: { name: string }) => volume.name === tmp?.name)?.emptyDir, name).toBeDefined();
    }
  });

  it("has a PodDisruptionBudget for every workload and autoscales the gateway and the catalog", () => {
    const budgets = objects.filter((object) => object.kind === "PodDisruptionBudget");
    for (const object of workloadsOf(objects)) {
      if (object.spec.replicas === 1 && object.kind === "StatefulSet") continue; // the dev database: nothing to keep available
      expect(budgets.filter((budget) => selects(budget.spec.selector, podLabels(object))), object.metadata.name).toHaveLength(1);
    }
    const autoscaled = objects.filter((object) => object.kind === "HorizontalPodAutoscaler");
    expect(autoscaled.map((hpa) => hpa.spec.scaleTargetRef.name).sort()).toEqual(["catalog", "gateway"]);
    for (const hpa of autoscaled) {
      expect(workload(hpa.spec.scaleTargetRef.name).kind).toBe(hpa.spec.scaleTargetRef.kind);
      expect(hpa.spec.minReplicas).toBe(replicas);
    }
  });

  it("runs NATS as a 3-node JetStream cluster whose routes name its own pods", () => {
    const nats = workload("nats");
    expect(nats.kind).toBe("StatefulSet");
    expect(nats.spec.replicas).toBe(3);
    const headless = objects.find((object) => object.kind === "Service" && object.metadata.name === nats.spec.serviceName)!;
    expect(headless.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    const config = objects.find((object) => object.kind === "ConfigMap" && object.metadata.name === "nats-config")!.data!["nats.conf"]!;
    expect(config).toMatch(/jetstream\s*\{/);
    const routes = [...config.matchAll(/nats:\/\/([a-z0-9-]+)\.([a-z0-9-]+):(\d+)/g)].map((match) => match.slice(1));
    expect(routes).toEqual([0, 1, 2].map((ordinal) => [`nats-${ordinal}`, headless.metadata.name, "6222"]));
  });

  it.runIf(overlay === "dev")("initialises its PostgreSQL with the same script as docker compose", () => {
    const init = objects.find((object) => object.kind === "ConfigMap" && object.metadata.name === "postgres-init")!;
    expect(init.data!["10-bazaar.sql"]).toBe(readRepoFile("deploy/postgres/init.sql"));
  });
});
