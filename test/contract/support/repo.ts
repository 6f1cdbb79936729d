import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: contract tests read proto/ and contracts/ from here, whatever the cwd. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** buf from the npm package, so no global install is needed. */
export const BUF = join(ROOT, "node_modules", ".bin", "buf");

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run a command in the repository root and return what it said (never throws on a non-zero exit). */
export function run(command: string, args: string[]): RunResult {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) return { status: 127, stdout: "", stderr: result.error.message };
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/** Read a JSON file of contracts/, with the file named if it does not parse. */
export function readJson<T>(relativePath: string): T {
  const path = join(ROOT, relativePath);
  if (!existsSync(path)) throw new Error(`${relativePath} does not exist`);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (error) {
    throw new Error(`${relativePath} is not valid JSON: ${(error as Error).message}`);
  }
}

/** "bazaar/catalog/v1/catalog.proto" → "proto/bazaar/catalog/v1/catalog.proto", the path a reader can open. */
export function sourcePathOf(protoFileName: string): string {
  if (protoFileName.startsWith("proto/") || protoFileName.startsWith("third_party/")) return protoFileName;
  if (/^(google|grpc)\//.test(protoFileName)) return `third_party/proto/${protoFileName}`;
  return `proto/${protoFileName}`;
}
