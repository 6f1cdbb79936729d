import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type FileRegistry } from "@bufbuild/protobuf";
import { describeField, eventMessages, fileOf } from "./descriptors.js";
import { readJson, ROOT } from "./repo.js";

/**
 * Consumer expectations: what each consumer relies on, kept as data in
 * contracts/consumers/<consumer>.json. A field is written "<number> [repeated ]<type>"
 * (e.g. "2 string"), keyed by its proto name under its message's full name.
 */
export type FieldsByMessage = Record<string, Record<string, string>>;

export interface CallExpectation {
  /** "bazaar.catalog.v1.CatalogService/BatchGetProducts" */
  method: string;
  why?: string;
  code?: string;
  request: string;
  response: string;
  /** Request fields the consumer sets (the provider must still read them). */
  sends: FieldsByMessage;
  /** Response fields the consumer reads. */
  reads: FieldsByMessage;
}

export interface EventExpectation {
  subject: string;
  message: string;
  why?: string;
  code?: string;
  reads: FieldsByMessage;
}

export interface ConsumerExpectations {
  consumer: string;
  about?: string;
  calls?: CallExpectation[];
  events?: EventExpectation[];
}

const DIR = "contracts/consumers";

export function loadConsumers(): ConsumerExpectations[] {
  return readdirSync(join(ROOT, DIR))
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => {
      const file = readJson<ConsumerExpectations>(`${DIR}/${name}`);
      if (`${file.consumer}.json` !== name) throw new Error(`${DIR}/${name} declares consumer "${file.consumer}"; the file name must match`);
      return file;
    });
}

/** One broken expectation, said so that whoever broke it knows whom they broke. */
export interface Breakage {
  consumer: string;
  /** The method or event subject the consumer relies on. */
  contract: string;
  /** The .proto file, e.g. proto/bazaar/catalog/v1/catalog.proto. */
  file: string;
  /** "bazaar.catalog.v1.Product.name", or the method itself. */
  field: string;
  problem: string;
}

export function formatBreakage(b: Breakage): string {
  return `consumer "${b.consumer}" relies on ${b.field} (contract ${b.contract}, ${b.file}): ${b.problem}`;
}

function checkFields(
  registry: FileRegistry,
  consumer: string,
  contract: string,
  fields: FieldsByMessage,
  fallbackFile: string,
): Breakage[] {
  const broken: Breakage[] = [];
  for (const [typeName, byName] of Object.entries(fields)) {
    const message = registry.getMessage(typeName);
    if (!message) {
      broken.push({ consumer, contract, file: fallbackFile, field: typeName, problem: `message ${typeName} no longer exists` });
      continue;
    }
    for (const [name, expected] of Object.entries(byName)) {
      const field = message.fields.find((candidate) => candidate.name === name);
      const where = { consumer, contract, file: fileOf(message), field: `${typeName}.${name}` };
      if (!field) {
        const number = Number(expected.split(" ")[0]);
        const reused = message.fields.find((candidate) => candidate.number === number);
        const now = reused ? `; field ${number} is now "${reused.name}" (${describeField(reused)})` : `; nothing has number ${number} now`;
        broken.push({ ...where, problem: `expected ${expected}, but field "${name}" no longer exists${now}` });
      } else if (describeField(field) !== expected) {
        broken.push({ ...where, problem: `expected ${expected}, the contract now says ${describeField(field)}` });
      }
    }
  }
  return broken;
}

/** Every expectation of one consumer checked against the contracts; empty when all still hold. */
export function checkConsumer(registry: FileRegistry, expectations: ConsumerExpectations): Breakage[] {
  const { consumer } = expectations;
  const broken: Breakage[] = [];
  for (const call of expectations.calls ?? []) {
    const [serviceName = "", methodName = ""] = call.method.split("/");
    const service = registry.getService(serviceName);
    const method = service?.methods.find((candidate) => candidate.name === methodName);
    const file = service ? fileOf(service) : "(unknown file)";
    if (!method) {
      broken.push({ consumer, contract: call.method, file, field: call.method, problem: service ? "the method no longer exists" : `service ${serviceName} no longer exists` });
      continue;
    }
    if (method.input.typeName !== call.request) {
      broken.push({ consumer, contract: call.method, file, field: call.method, problem: `request type is now ${method.input.typeName}, expected ${call.request}` });
    }
    if (method.output.typeName !== call.response) {
      broken.push({ consumer, contract: call.method, file, field: call.method, problem: `response type is now ${method.output.typeName}, expected ${call.response}` });
    }
    broken.push(...checkFields(registry, consumer, call.method, call.sends, file));
    broken.push(...checkFields(registry, consumer, call.method, call.reads, file));
  }
  const subjects = eventMessages(registry);
  for (const event of expectations.events ?? []) {
    const carriers = subjects.filter((candidate) => candidate.subject === event.subject);
    const declared = registry.getMessage(event.message);
    const file = carriers[0]?.file ?? (declared ? fileOf(declared) : "(no file declares it)");
    const contract = `event ${event.subject}`;
    if (carriers.length === 0) {
      const now = subjects.find((candidate) => candidate.typeName === event.message);
      const instead = now ? `; ${event.message} is now published on "${now.subject}"` : "";
      broken.push({ consumer, contract, file, field: event.message, problem: `no message declares (bazaar.options.v1.event_subject) = "${event.subject}" any more${instead}` });
    } else if (carriers.length > 1 || carriers[0]!.typeName !== event.message) {
      broken.push({ consumer, contract, file, field: event.message, problem: `the subject now carries ${carriers.map((c) => c.typeName).join(" and ")}, expected ${event.message}` });
    }
    broken.push(...checkFields(registry, consumer, contract, event.reads, file));
  }
  return broken;
}

/** Who relies on a message (and optionally one of its fields), for annotating a buf breaking failure. */
export function dependentsOf(
  consumers: ConsumerExpectations[],
  target: { message?: string; field?: string; number?: number; method?: string },
): string[] {
  const found = new Set<string>();
  for (const expectations of consumers) {
    const uses: Array<{ contract: string; fields: FieldsByMessage }> = [
      ...(expectations.calls ?? []).flatMap((call) => [
        { contract: call.method, fields: call.sends },
        { contract: call.method, fields: call.reads },
      ]),
      ...(expectations.events ?? []).map((event) => ({ contract: `event ${event.subject}`, fields: event.reads })),
    ];
    for (const call of expectations.calls ?? []) {
      if (target.method && call.method === target.method) found.add(`${expectations.consumer} (calls ${call.method})`);
    }
    for (const { contract, fields } of uses) {
      if (!target.message) continue;
      const byName = fields[target.message];
      if (!byName) continue;
      const hit = Object.entries(byName).find(
        ([name, spec]) =>
          (target.field === undefined && target.number === undefined) ||
          name === target.field ||
          Number(spec.split(" ")[0]) === target.number,
      );
      if (hit) found.add(`${expectations.consumer} (${contract} uses ${target.message}.${hit[0]})`);
    }
  }
  return [...found].sort();
}
