import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { SERVICE_NODE_FLAGS } from "../../src/process.js";

export { isRunning } from "../../src/process.js";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** Run a TypeScript entry point from source as its own process, as tsx does for scripts. */
export function spawnTs(entry: string, env: NodeJS.ProcessEnv, args: string[] = []): ServiceProcess {
  const child = spawn(process.execPath, ["--conditions=bazaar-source", "--import", "tsx", entry, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  return new ServiceProcess(child);
}

/** Run a compiled entry point (a service's dist/main.js) as its own process, with the flags `make up` gives it. */
export function spawnNode(entry: string, env: NodeJS.ProcessEnv): ServiceProcess {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, entry], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  return new ServiceProcess(child);
}

/** A child process whose JSON log lines (stdout) and stderr are collected as they come. */
export class ServiceProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  stderr = "";
  readonly exited: Promise<number | null>;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    let partial = "";
    child.stdout.on("data", (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const parts = text.split("\n");
      partial = parts.pop() ?? "";
      for (const part of parts) {
        try {
          this.lines.push(JSON.parse(part) as Record<string, unknown>);
        } catch {
          this.lines.push({ raw: part });
        }
      }
      this.waiters.splice(0).forEach((wake) => wake());
    });
    child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  /** The first log line whose msg is `msg`, waiting for it (rejects if the process exits first). */
  async logLine(msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => l.msg === msg);
      if (line) return line;
      if (this.child.exitCode !== null) throw new Error(`process exited before logging "${msg}": ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no "${msg}" log line within ${timeoutMs} ms`);
      await new Promise<void>((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, 200);
      });
    }
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

export { freePort } from "../../src/free-port.js";

/**
 * Whether importing `modules` (paths from the repository root, run from source) makes
 * Node load its bundled undici (fetch, WebSocket): 14 MB resident on Node 24 that a
 * service has no use for (lib/src/http-server.ts says how it creeps in).
 */
export function importLoadsUndici(modules: string[]): boolean {
  const imports = modules.map((module) => `await import(${JSON.stringify(join(repoRoot, module))});`).join(" ");
  const probe = `${imports} console.log(process.moduleLoadList.some((name) => name.includes("undici")));`;
  const output = execFileSync(process.execPath, ["--conditions=bazaar-source", "--import", "tsx", "--input-type=module", "-e", probe], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  return JSON.parse(output.trim().split("\n").at(-1)!) as boolean;
}
