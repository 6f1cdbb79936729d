import { describe, expect, it } from "vitest";
import { launchMesh, type LaunchedModule, type LaunchOptions } from "../../scripts/launch.js";

/**
 * The launcher's order and wiring, with processes that only record what
 * happens to them (the real processes: test/launcher/seventh-service.test.ts,
 * the e2e and chaos meshes, test/mesh.test.ts).
 */
const module = (name: string, calls: string[] = [], subjects: string[] = []): LaunchedModule => ({
  name,
  ports: { grpc: 0, admin: 0 },
  calls: Object.fromEntries(calls.map((callee) => [callee, { address: `${callee.toUpperCase()}_ADDR` }])),
  consumes: subjects.map((subject) => ({ type: { subject } })),
});

/** A front service calling two backends, one of which calls a third. */
const MODULES = [module("front", ["left", "right"]), module("left", ["base"]), module("right"), module("base")];

/** Processes on port 0 (they say where they listen once they do), or, `placed`, on ports chosen before they start. */
function recorder(failing?: string, placed = false) {
  const events: string[] = [];
  const envs = new Map<string, NodeJS.ProcessEnv>();
  const ports = new Map(MODULES.map((launched, index) => [launched.name, 2000 + index]));
  const options: LaunchOptions<{ grpcAddress?: string; stop(): Promise<void> }, LaunchedModule> = {
    modules: MODULES,
    placement: { natsUrl: "nats://127.0.0.1:1", tlsDir: "/certs", env: { LOG_LEVEL: "silent" } },
    place: (launched) => ({
      grpc: `127.0.0.1:${placed ? ports.get(launched.name) : 0}`,
      admin: `127.0.0.1:${placed ? 9000 + ports.get(launched.name)! : 0}`,
      databaseUrl: `postgres://db/${launched.name}`,
    }),
    edgeHttpAddress: placed ? "127.0.0.1:8080" : "127.0.0.1:0",
    extraEnv: (name) => (name === "left" ? { LEFT_ONLY: "1" } : undefined),
    run: async (name, env) => {
      events.push(`start ${name}`);
      const port = 1000 + events.length;
      envs.set(name, env);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (name === failing) throw new Error(`${name} did not start`);
      events.push(`up ${name}`);
      return { ...(placed ? {} : { grpcAddress: `127.0.0.1:${port}` }), stop: async () => void events.push(`stop ${name}`) };
    },
  };
  return { events, envs, options };
}

describe("the mesh's launcher (scripts/launch.ts)", () => {
  it("starts each service after those it calls, then the gateway, where addresses are learnt once processes serve (port 0)", async () => {
    const { events, envs, options } = recorder();
    const mesh = await launchMesh(options);
    const starts = events.filter((event) => event.startsWith("start ")).map((event) => event.slice("start ".length));
    expect(starts.indexOf("base")).toBeLessThan(starts.indexOf("left"));
    expect(Math.max(starts.indexOf("left"), starts.indexOf("right"))).toBeLessThan(starts.indexOf("front"));
    expect(starts.at(-1)).toBe("gateway");
    expect(envs.get("left")).toMatchObject({ BASE_ADDR: mesh.grpc.base, DATABASE_URL: "postgres://db/left", LEFT_ONLY: "1", LOG_LEVEL: "silent", TLS_MODE: "mtls" });
    expect(envs.get("front")).toMatchObject({ LEFT_ADDR: mesh.grpc.left, RIGHT_ADDR: mesh.grpc.right });
    expect(envs.get("right")?.LEFT_ONLY).toBeUndefined();
    expect(new Set(Object.values(mesh.grpc)).size).toBe(MODULES.length);
  });

  it("starts every process at once where every address is chosen before it starts, each given its callees' addresses", async () => {
    const { events, envs, options } = recorder(undefined, true);
    const mesh = await launchMesh(options);
    const firstUp = events.findIndex((event) => event.startsWith("up "));
    expect(events.slice(0, firstUp).toSorted()).toEqual(["start base", "start front", "start gateway", "start left", "start right"]);
    expect(mesh.grpc).toEqual({ front: "127.0.0.1:2000", left: "127.0.0.1:2001", right: "127.0.0.1:2002", base: "127.0.0.1:2003" });
    expect(envs.get("front")).toMatchObject({ LEFT_ADDR: "127.0.0.1:2001", RIGHT_ADDR: "127.0.0.1:2002", ADMIN_ADDR: "127.0.0.1:11000" });
    expect(envs.get("left")).toMatchObject({ BASE_ADDR: "127.0.0.1:2003", LEFT_ONLY: "1" });
    expect([...mesh.processes.keys()]).toEqual(["right", "base", "left", "front", "gateway"]);
  });

  it.each([
    ["learnt once they serve", false],
    ["chosen before they start", true],
  ])("stops the other way round, addresses %s: the gateway, then each service before those it calls", async (_, placed) => {
    const { events, options } = recorder(undefined, placed);
    const mesh = await launchMesh(options);
    events.length = 0;
    await mesh.stop();
    const stops = events.map((event) => event.slice("stop ".length));
    expect(stops[0]).toBe("gateway");
    expect(stops.indexOf("front")).toBeLessThan(Math.min(stops.indexOf("left"), stops.indexOf("right")));
    expect(stops.indexOf("left")).toBeLessThan(stops.indexOf("base"));
  });

  it("stops what it started when a process fails to start, and says which", async () => {
    const { events, options } = recorder("left");
    await expect(launchMesh(options)).rejects.toThrow("left did not start");
    expect(events).toContain("stop base");
    expect(events).toContain("stop right");
    expect(events.some((event) => event.startsWith("start front") || event === "start gateway")).toBe(false);
  });

  it("stops every process that started when one of those started at once fails", async () => {
    const { events, options } = recorder("left", true);
    await expect(launchMesh(options)).rejects.toThrow("left did not start");
    expect(events.filter((event) => event.startsWith("stop ")).toSorted()).toEqual(["stop base", "stop front", "stop gateway", "stop right"]);
  });

  it("refuses modules that call each other in a circle, or call one it does not launch", async () => {
    const { options } = recorder();
    await expect(launchMesh({ ...options, modules: [module("a", ["b"]), module("b", ["a"])] })).rejects.toThrow("call each other in a circle, or call one not launched: a, b");
    await expect(launchMesh({ ...options, modules: [module("a", ["elsewhere"])] })).rejects.toThrow("call one not launched: a");
  });
});
