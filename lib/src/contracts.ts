import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createFileRegistry, fromBinary, getOption, hasOption, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/**
 * The compiled contracts at run time: the FileDescriptorSet `make gen` writes
 * (every file of proto/ and third_party/proto, imports included). Reflection
 * serves it, and events read their NATS subjects from it, so the .proto files
 * stay the one source of truth.
 */
let registry: FileRegistry | undefined;

/** Parsed once per process: reflection serves it, events and clients read their options from it. */
export function contractRegistry(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(createRequire(import.meta.url).resolve("@bazaar/gen/descriptors.binpb"))));
  return registry;
}

/** The `(bazaar.options.v1.event_subject)` an event message declares; throws if it declares none. */
export function eventSubjectOf(typeName: string): string {
  const registry = contractRegistry();
  const message = registry.getMessage(typeName);
  if (!message) throw new Error(`no message ${typeName} in the contracts (run make gen?)`);
  const option = registry.getExtension("bazaar.options.v1.event_subject");
  if (!option || option.kind !== "extension") throw new Error("bazaar.options.v1.event_subject is missing from the contracts");
  if (!hasOption(message, option)) throw new Error(`${typeName} declares no (bazaar.options.v1.event_subject)`);
  return getOption(message, option) as string;
}

/** Every event message of the contracts, by subject. */
export function allEventSubjects(): Map<string, string> {
  const registry = contractRegistry();
  const option = registry.getExtension("bazaar.options.v1.event_subject")!;
  const bySubject = new Map<string, string>();
  for (const desc of registry) {
    if (desc.kind === "message" && hasOption(desc, option)) bySubject.set(getOption(desc, option) as string, desc.typeName);
  }
  return bySubject;
}
