import { type FileRegistry } from "@bufbuild/protobuf";
import { eventMessages } from "./descriptors.js";
import { type ConsumerExpectations, dependentsOf } from "./expectations.js";
import { BUF, run, sourcePathOf } from "./repo.js";

/**
 * Wire compatibility against a baseline: buf breaking (WIRE_JSON, from buf.yaml)
 * for fields, types and methods, plus what buf cannot see, a changed
 * (bazaar.options.v1.event_subject). Each failure names the contract, the file,
 * the field and the consumers that depend on it.
 */

export type Baseline = { input: string; label: string } | { skip: string };

/**
 * The baseline: CONTRACT_BASELINE if set (any buf input: ".git#tag=v1", a
 * directory, an image), else the main branch of this checkout's git history.
 * The common git dir is used, so a linked worktree works too.
 */
export function findBaseline(env: NodeJS.ProcessEnv = process.env): Baseline {
  const explicit = env.CONTRACT_BASELINE?.trim();
  if (explicit) return { input: explicit, label: `CONTRACT_BASELINE=${explicit}` };
  const gitDir = run("git", ["rev-parse", "--path-format=absolute", "--git-common-dir"]);
  if (gitDir.status !== 0) return { skip: "not a git checkout and CONTRACT_BASELINE is not set: no baseline to compare the contracts with" };
  const dir = gitDir.stdout.trim();
  for (const [ref, selector] of [
    ["refs/heads/main", "branch=main"],
    ["refs/remotes/origin/main", "ref=origin/main"],
  ] as const) {
    if (run("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]).status !== 0) continue;
    if (run("git", ["rev-parse", "--is-shallow-repository"]).stdout.trim() === "true") {
      return { skip: "this clone is shallow: fetch the history of main (git fetch --unshallow) or set CONTRACT_BASELINE" };
    }
    return { input: `${dir}#${selector}`, label: ref.replace(/^refs\/(heads|remotes)\//, "") };
  }
  return { skip: "this git checkout has no main branch: set CONTRACT_BASELINE to a buf input (e.g. .git#tag=v1)" };
}

export interface BufFailure {
  path: string;
  start_line?: number;
  type: string;
  message: string;
}

/** Run buf breaking; the failures as buf reports them (JSON), or throws if buf itself could not run. */
export function bufBreaking(baselineInput: string): BufFailure[] {
  const result = run(BUF, ["breaking", "--against", baselineInput, "--error-format=json"]);
  if (result.status === 0) return [];
  const lines = result.stdout.split("\n").filter((line) => line.startsWith("{"));
  if (lines.length === 0) throw new Error(`buf breaking could not run (exit ${result.status}):\n${result.stderr || result.stdout}`);
  return lines.map((line) => JSON.parse(line) as BufFailure);
}

/** "proto/bazaar/catalog/v1/catalog.proto" → "bazaar.catalog.v1" (buf lint's PACKAGE_DIRECTORY_MATCH guarantees it). */
function packageOf(path: string): string {
  return path.replace(/^proto\//, "").split("/").slice(0, -1).join(".");
}

/** A buf failure, with the contract, field and dependent consumers spelled out. */
export function explainBufFailure(failure: BufFailure, consumers: ConsumerExpectations[], current?: FileRegistry): string {
  const file = sourcePathOf(failure.path);
  const pkg = packageOf(file);
  const message = /on message "([^"]+)"/.exec(failure.message)?.[1];
  const field = /field "(\d+)"(?: with name "([^"]+)")?/i.exec(failure.message);
  const rpc = /RPC "([^"]+)" on service "([^"]+)"/.exec(failure.message) ?? /on service "([^"]+)"/.exec(failure.message);
  const typeName = message ? `${pkg}.${message}` : undefined;
  let contract = typeName ?? "";
  let target: Parameters<typeof dependentsOf>[1] = {};
  if (typeName) {
    target = { message: typeName, ...(field ? { number: Number(field[1]) } : {}), ...(field?.[2] ? { field: field[2] } : {}) };
    if (field) contract = `${typeName} field ${field[1]}${field[2] ? ` (${field[2]})` : ""}`;
    // buf reports a renumbered field as a deleted one; say what really happened.
    const moved = field?.[2] ? current?.getMessage(typeName)?.fields.find((f) => f.name === field[2]) : undefined;
    if (moved && moved.number !== Number(field![1])) contract += ` renumbered ${field![1]} → ${moved.number}`;
  } else if (rpc && rpc.length === 3) {
    const method = `${pkg}.${rpc[2]}/${rpc[1]}`;
    contract = method;
    target = { method };
  }
  const dependents = dependentsOf(consumers, target);
  const who = dependents.length > 0 ? `depended on by ${dependents.join("; ")}` : "no declared consumer depends on it";
  return `${file}:${failure.start_line ?? "?"} [${failure.type}] ${contract ? `${contract}: ` : ""}${failure.message} — ${who}`;
}

/** Event subjects that changed between baseline and now, each naming the message, old and new subject, and who consumes it. */
export function subjectChanges(baseline: FileRegistry, current: FileRegistry, consumers: ConsumerExpectations[]): string[] {
  const now = eventMessages(current);
  const problems: string[] = [];
  const consumersOf = (subject: string, typeName: string) => {
    const names = consumers
      .filter((c) => (c.events ?? []).some((event) => event.subject === subject || event.message === typeName))
      .map((c) => c.consumer);
    return names.length > 0 ? `consumed by ${names.join(", ")}` : "no declared consumer";
  };
  for (const before of eventMessages(baseline)) {
    const after = now.filter((candidate) => candidate.typeName === before.typeName);
    const where = after[0]?.file ?? before.file;
    if (after.length === 0) {
      const message = current.getMessage(before.typeName);
      problems.push(
        message
          ? `${where}: event ${before.typeName} no longer declares (bazaar.options.v1.event_subject); it was "${before.subject}" — ${consumersOf(before.subject, before.typeName)}`
          : `${where}: event ${before.typeName} (subject "${before.subject}") was removed — ${consumersOf(before.subject, before.typeName)}`,
      );
    } else if (after[0]!.subject !== before.subject) {
      problems.push(
        `${where}: event ${before.typeName} changed its subject from "${before.subject}" to "${after[0]!.subject}" — ${consumersOf(before.subject, before.typeName)}`,
      );
    }
  }
  return problems;
}

/** Each subject must be carried by exactly one message type. */
export function duplicateSubjects(current: FileRegistry): string[] {
  const bySubject = new Map<string, string[]>();
  for (const event of eventMessages(current)) bySubject.set(event.subject, [...(bySubject.get(event.subject) ?? []), `${event.typeName} (${event.file})`]);
  return [...bySubject].filter(([, types]) => types.length > 1).map(([subject, types]) => `subject "${subject}" is declared by ${types.join(" and ")}`);
}
