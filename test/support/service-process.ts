/**
 * One process of a test mesh (a service or the gateway) started from its
 * compiled entry with the environment scripts/launch.ts gives it: started,
 * watched through its JSON log lines, stopped gracefully or killed, and started
 * again on the same environment (so on the same address, if that was fixed).
 */
import { existsSync } from "node:fs";
import { type ServiceProcess, spawnNode } from "../../lib/test/support/process.js";
import { entryOf } from "../../scripts/launch.js";

/** Several processes starting at once on two shared cores, TLS and migrations included: generous, a loaded machine is slow. */
const START_TIMEOUT_MS = 120_000;
/** How long a process may drain after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 15_000;

/** A mesh runs the compiled code, as `make up` does; a missing build is the runner's mistake, said plainly. */
export function requireBuilt(names: readonly string[]): void {
  const missing = names.filter((name) => !existsSync(entryOf(name)));
  if (missing.length > 0) throw new Error(`missing ${missing.map((name) => `services/${name}/dist/main.js`).join(", ")}: run make build`);
}

export class MeshProcess {
  process: ServiceProcess | undefined;
  /** host:port of its gRPC server, as its "listening" line said (a service). */
  address = "";
  adminPort = 0;
  /** Its HTTP port, as its "listening" line said (the gateway). */
  httpPort = 0;

  /** `consumerSubjects`: its module's durable consumers (launch.ts consumersOf); `entry`: its compiled main.js. */
  constructor(
    readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly consumerSubjects: readonly string[] = [],
    private readonly entry = entryOf(name),
  ) {}

  /**
   * Start the process and wait until it listens and (a service) serves, and,
   * unless told not to, until every durable consumer of its module is declared:
   * a consumer waits for its stream, which only nats-admin may declare.
   */
  async start({ consumers = true } = {}): Promise<void> {
    const child = spawnNode(this.entry, this.env);
    this.process = child;
    const listening = await child.logLine("listening", START_TIMEOUT_MS);
    if (listening.grpc_port !== undefined) {
      this.address = `127.0.0.1:${Number(listening.grpc_port)}`;
      this.adminPort = Number(listening.admin_port);
      await child.logLine("serving", START_TIMEOUT_MS);
    }
    if (listening.http_port !== undefined) this.httpPort = Number(listening.http_port);
    if (consumers) await this.consumersDeclared();
  }

  /** Resolves once the current process has declared each of its module's durable consumers. */
  async consumersDeclared(): Promise<void> {
    const child = this.process!;
    const subjects = this.consumerSubjects;
    const deadline = Date.now() + START_TIMEOUT_MS;
    const missing = () => subjects.filter((subject) => !child.lines.some((line) => line.msg === "consuming" && line.subject === subject));
    while (missing().length > 0) {
      if (child.child.exitCode !== null) throw new Error(`${this.name} exited before declaring its consumers: ${child.stderr}`);
      if (Date.now() > deadline) throw new Error(`${this.name}'s consumers not declared in time: ${missing().join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** kill -9: no drain, no goodbye. */
  async kill9(): Promise<void> {
    const child = this.process;
    if (!child || child.child.exitCode !== null || child.child.signalCode !== null) return;
    child.kill();
    await child.exited;
  }

  /** SIGTERM and wait for the drain (SIGKILL if it takes too long). */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.child.exitCode !== null || child.child.signalCode !== null) return;
    child.child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS)));
    if ((await Promise.race([child.exited, timedOut])) === "timeout") {
      child.kill();
      await child.exited;
    }
    clearTimeout(timer);
  }

  /** Every JSON log line of the current process so far. */
  lines(): ReadonlyArray<Record<string, unknown>> {
    return this.process?.lines ?? [];
  }

  /** Log lines of the current process with this message. */
  logged(msg: string): Array<Record<string, unknown>> {
    return this.lines().filter((line) => line.msg === msg);
  }

  /** The last `count` log lines and stderr, for a failed test's report. */
  tail(count = 30): string {
    const child = this.process;
    if (!child) return "";
    const stderr = child.stderr.trimEnd().split("\n").slice(-count).join("\n");
    return [...child.lines.slice(-count).map((line) => JSON.stringify(line)), ...(stderr ? ["stderr:", stderr] : [])].join("\n");
  }
}
