import {
  clone,
  create,
  createFileRegistry,
  type DescMessage,
  type FileRegistry,
  fromBinary,
  fromJson,
  type JsonValue,
  toBinary,
} from "@bufbuild/protobuf";
import { FieldDescriptorProtoSchema, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { type Interaction } from "./examples.js";
import { readJson } from "./repo.js";

/**
 * Example events (contracts/examples/events.json): a payload in proto3 JSON
 * (proto field names), optional gRPC calls that prepare the consumers
 * ("given"), and what each consumer must show afterwards ("then"), polled
 * until it holds. Payloads are encoded from the contract's descriptors, not
 * the ts-proto stubs, so a consumer is fed the contract's bytes.
 */
export interface Step extends Interaction {
  /** The consuming service that answers this call, e.g. "notifications". */
  consumer: string;
}

export interface ExampleEvent {
  name: string;
  description?: string;
  subject: string;
  message: string;
  payload: JsonValue;
  given?: Step[];
  then?: Step[];
}

export function loadExampleEvents(): ExampleEvent[] {
  return readJson<{ events: ExampleEvent[] }>("contracts/examples/events.json").events;
}

export function schemaOf(registry: FileRegistry, typeName: string): DescMessage {
  const schema = registry.getMessage(typeName);
  if (!schema) throw new Error(`no message ${typeName} in the contracts`);
  return schema;
}

/** Encode a proto3 JSON payload as the contract's message type. */
export function encodeJson(registry: FileRegistry, typeName: string, payload: JsonValue): Uint8Array {
  const schema = schemaOf(registry, typeName);
  return toBinary(schema, fromJson(schema, payload, { registry }));
}

/**
 * Decode bytes as the declared type; report fields the contract does not know
 * (a publisher writing fields outside its contract), which a plain decode would skip.
 */
export function decodeStrictly(registry: FileRegistry, typeName: string, bytes: Uint8Array): { message: Record<string, unknown>; unknownFields: number[] } {
  const schema = schemaOf(registry, typeName);
  const message = fromBinary(schema, bytes) as unknown as Record<string, unknown> & { $unknown?: Array<{ no: number }> };
  return { message, unknownFields: (message.$unknown ?? []).map((field) => field.no) };
}

/**
 * A "newer" version of a message: the same contract with extra fields appended
 * (as a producer one release ahead would have it), built from a copy of the
 * descriptors. Returns a registry in which `typeName` has the extra fields.
 */
export function newerRegistry(
  current: FileRegistry,
  typeName: string,
  extra: Array<{ name: string; number: number; type: "string" | "int64" | "bool" }>,
): FileRegistry {
  const message = schemaOf(current, typeName);
  const TYPES = { string: 9, int64: 3, bool: 8 } as const;
  const files = [...current.files].map((file) => {
    const proto = clone(FileDescriptorProtoSchema, file.proto);
    const target = file === message.file ? proto.messageType.find((candidate) => candidate.name === message.name) : undefined;
    for (const field of target ? extra : []) {
      target!.field.push(
        create(FieldDescriptorProtoSchema, {
          name: field.name,
          number: field.number,
          type: TYPES[field.type],
          label: 1,
          jsonName: field.name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
        }),
      );
    }
    return proto;
  });
  return createFileRegistry(create(FileDescriptorSetSchema, { file: files }));
}
