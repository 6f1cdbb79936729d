import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createFileRegistry,
  type DescField,
  fromBinary,
  getOption,
  hasOption,
  type FileRegistry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { BUF, run, sourcePathOf } from "./repo.js";

/**
 * Descriptor sets the contract checks compare. "Current" is built from the
 * .proto sources right now (not gen/descriptors.binpb, which may be stale), so
 * a check never passes on yesterday's contracts.
 */

/** Build a FileDescriptorSet from any buf input ("." = the working tree, ".git#branch=main", a directory, a .binpb). */
export function buildDescriptorSet(input: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "bazaar-contract-"));
  try {
    const out = join(dir, "image.binpb");
    const result = run(BUF, ["build", input, "-o", out]);
    if (result.status !== 0) throw new Error(`buf build ${input} failed:\n${result.stderr || result.stdout}`);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registryOf(bytes: Uint8Array): FileRegistry {
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
}

let current: FileRegistry | undefined;

/** The contracts as the working tree's proto/ says now. */
export function currentRegistry(): FileRegistry {
  return (current ??= registryOf(buildDescriptorSet(".")));
}

/** Where a message or service is written down, as a path a reader can open. */
export function fileOf(desc: { file: { proto: { name: string } } }): string {
  return sourcePathOf(desc.file.proto.name);
}

const SCALARS: Record<number, string> = {
  1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool", 9: "string",
  12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
};

/**
 * A field's wire meaning in the notation consumer expectations use:
 * "<number> [repeated ]<type>", e.g. "2 string", "1 repeated bazaar.catalog.v1.Product".
 */
export function describeField(field: DescField): string {
  const proto = field.proto;
  const type = proto.typeName ? proto.typeName.replace(/^\./, "") : (SCALARS[proto.type] ?? `type#${proto.type}`);
  const repeated = proto.label === 3 ? "repeated " : "";
  return `${proto.number} ${repeated}${type}`;
}

/** Every message that declares (bazaar.options.v1.event_subject), with its subject; duplicates kept. */
export function eventMessages(registry: FileRegistry): Array<{ typeName: string; subject: string; file: string }> {
  const option = registry.getExtension("bazaar.options.v1.event_subject");
  if (!option) throw new Error("bazaar.options.v1.event_subject is missing from the contracts");
  const found = [];
  for (const desc of registry) {
    if (desc.kind === "message" && hasOption(desc, option)) {
      found.push({ typeName: desc.typeName, subject: getOption(desc, option) as string, file: fileOf(desc) });
    }
  }
  return found.sort((a, b) => a.typeName.localeCompare(b.typeName));
}
