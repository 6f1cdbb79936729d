import { status as grpcStatus } from "@grpc/grpc-js";
import { fieldViolationsOf } from "@bazaar/runtime/grpc/status";
import { type DynamicClient } from "./dynamic-client.js";
import { readJson } from "./repo.js";

/**
 * Example interactions (contracts/examples/<service>.json): requests in the
 * proto3 field names, and what must come back, either a response (matched as a
 * subset) or a status code with the fields it must name. They run in order, so
 * a later request can use an earlier answer: "${charge.payment.id}" is the
 * payment id the interaction named "charge" got back.
 *
 * In expected values, "$regex:<pattern>" matches a string by pattern and
 * "$any" matches anything that is present.
 */
export interface Interaction {
  name: string;
  description?: string;
  method: string;
  request: Record<string, unknown>;
  metadata?: Record<string, string>;
  response?: Record<string, unknown>;
  status?: keyof typeof grpcStatus;
  /** The fields a google.rpc.BadRequest must name, in any order (INVALID_ARGUMENT). */
  field_violations?: string[];
  /** A pattern the status message must match. */
  message?: string;
}

export interface ExampleFile {
  service: string;
  about?: string;
  interactions: Interaction[];
}

export function loadExamples(name: string): ExampleFile {
  return readJson<ExampleFile>(`contracts/examples/${name}.json`);
}

type Answers = Map<string, unknown>;

function lookup(answers: Answers, reference: string): unknown {
  const [name = "", ...path] = reference.split(".");
  if (!answers.has(name)) throw new Error(`\${${reference}} refers to "${name}", which has not run (or failed) before`);
  let value = answers.get(name);
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  if (value === undefined) throw new Error(`\${${reference}} is not in the response of "${name}"`);
  return value;
}

/** Replace "${name.path}" by earlier answers: a whole-string reference keeps the value's type. */
export function resolve(value: unknown, answers: Answers): unknown {
  if (typeof value === "string") {
    const whole = /^\$\{([^}]+)\}$/.exec(value);
    if (whole) return lookup(answers, whole[1]!);
    return value.replace(/\$\{([^}]+)\}/g, (_, reference: string) => String(lookup(answers, reference)));
  }
  if (Array.isArray(value)) return value.map((item) => resolve(item, answers));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, answers)]));
  return value;
}

/** Where `actual` does not contain `expected`: one line per mismatch, with its path. Arrays must have the same length. */
export function mismatches(expected: unknown, actual: unknown, path = ""): string[] {
  const at = path || "(response)";
  if (expected === "$any") return actual === undefined || actual === null ? [`${at}: missing`] : [];
  if (typeof expected === "string" && expected.startsWith("$regex:")) {
    const pattern = new RegExp(expected.slice("$regex:".length));
    return typeof actual === "string" && pattern.test(actual) ? [] : [`${at}: ${JSON.stringify(actual)} does not match /${pattern.source}/`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: expected a list, got ${JSON.stringify(actual)}`];
    if (actual.length !== expected.length) return [`${at}: expected ${expected.length} items, got ${actual.length}`];
    return expected.flatMap((item, index) => mismatches(item, actual[index], `${path}[${index}]`));
  }
  if (expected && typeof expected === "object") {
    if (!actual || typeof actual !== "object") return [`${at}: expected a message, got ${JSON.stringify(actual)}`];
    return Object.entries(expected).flatMap(([key, value]) =>
      mismatches(value, (actual as Record<string, unknown>)[key], path ? `${path}.${key}` : key),
    );
  }
  return Object.is(expected, actual) ? [] : [`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}

const codeName = (code: number) => Object.entries(grpcStatus).find(([, value]) => value === code)?.[0] ?? String(code);

/** Replay one interaction; returns the problems (empty when the provider honoured it). */
export async function replay(client: DynamicClient, example: Interaction, answers: Answers): Promise<string[]> {
  const outcome = await client.call(example.method, resolve(example.request, answers), example.metadata);
  const expectsError = example.status !== undefined && example.status !== "OK";
  if (outcome.ok) {
    answers.set(example.name, outcome.response);
    if (expectsError) return [`expected ${example.status}, got OK with ${JSON.stringify(outcome.response)}`];
    return mismatches(resolve(example.response ?? {}, answers), outcome.response);
  }
  const got = codeName(outcome.error.code);
  if (!expectsError) return [`expected a response, got ${got}: ${outcome.error.details}`];
  const problems: string[] = [];
  if (got !== example.status) problems.push(`expected ${example.status}, got ${got}: ${outcome.error.details}`);
  if (example.message && !new RegExp(example.message).test(outcome.error.details)) {
    problems.push(`status message ${JSON.stringify(outcome.error.details)} does not match /${example.message}/`);
  }
  if (example.field_violations) {
    const named = fieldViolationsOf(outcome.error).map((violation) => violation.field).sort();
    const expected = [...example.field_violations].sort();
    if (JSON.stringify(named) !== JSON.stringify(expected)) {
      problems.push(`expected field violations ${JSON.stringify(expected)}, got ${JSON.stringify(named)}`);
    }
  }
  return problems;
}
