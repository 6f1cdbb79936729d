/**
 * Hostile request bytes for one RPC, made from the contract's own descriptors:
 * random bytes; valid example requests with fields replaced by long, unicode,
 * negative or huge values; messages of the right shape filled with such values;
 * and valid encodings damaged on the wire (flipped bytes, cut short, a field
 * sent with the wrong wire type, a length prefix that lies).
 */
import { create, type DescField, type DescMessage, fromJson, type JsonValue, type Message, ScalarType, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { contractRegistry } from "@bazaar/runtime/contracts";
import { type Random } from "./random.js";

export type Mode = "random-bytes" | "mutated-example" | "hostile-shape" | "damaged-wire";
const MODES: readonly Mode[] = ["random-bytes", "mutated-example", "mutated-example", "hostile-shape", "damaged-wire", "damaged-wire"];

export interface HostileRequest {
  mode: Mode;
  bytes: Buffer;
}

/** The example requests of a method (proto JSON), as encodable messages; examples that do not parse are skipped. */
export function seedsOf(input: DescMessage, requests: readonly JsonValue[]): Message[] {
  const seeds: Message[] = [];
  for (const request of requests) {
    try {
      seeds.push(fromJson(input, request, { registry: contractRegistry(), ignoreUnknownFields: true }));
    } catch {
      // A template like "${place.order.id}" in a number field: not a usable seed.
    }
  }
  return seeds.length > 0 ? seeds : [create(input)];
}

export function hostileRequest(random: Random, input: DescMessage, seeds: readonly Message[]): HostileRequest {
  const mode = random.pick(MODES);
  switch (mode) {
    case "random-bytes":
      return { mode, bytes: random.bytes(random.int(0, 200)) };
    case "mutated-example":
      return { mode, bytes: encode(input, mutated(random, input, random.pick(seeds))) };
    case "hostile-shape":
      return { mode, bytes: encode(input, hostileMessage(random, input, 0)) };
    case "damaged-wire": {
      const base = random.chance(0.5) ? random.pick(seeds) : mutated(random, input, random.pick(seeds));
      return { mode, bytes: damaged(random, input, encode(input, base)) };
    }
  }
}

function encode(input: DescMessage, message: Message): Buffer {
  try {
    return Buffer.from(toBinary(input, message));
  } catch {
    // A value the encoder refuses (e.g. a bigint out of range): send the empty message instead.
    return Buffer.alloc(0);
  }
}

/** A copy of `seed` with one to three of its fields (at any depth of its first level of messages) replaced by hostile values. */
function mutated(random: Random, input: DescMessage, seed: Message): Message {
  const copy = structuredClone(seed) as Record<string, unknown>;
  const count = random.int(1, 3);
  for (let i = 0; i < count; i++) {
    const field = random.pick(input.fields);
    const current = copy[field.localName];
    // Sometimes go one level down into a list of messages (items[n].quantity).
    if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(current) && current.length > 0 && random.chance(0.5)) {
      const element = random.pick(current) as Record<string, unknown>;
      const inner = random.pick(field.message.fields);
      setField(element, inner, hostileValue(random, inner, 1));
    } else {
      setField(copy, field, hostileValue(random, field, 0));
    }
  }
  return copy as Message;
}

/** A message of the right shape whose fields are hostile; `depth` 0 is the request itself. */
function hostileMessage(random: Random, desc: DescMessage, depth: number): Message {
  const message = create(desc) as Record<string, unknown>;
  for (const field of desc.fields) if (random.chance(0.6)) setField(message, field, hostileValue(random, field, depth));
  return message as Message;
}

function setField(message: Record<string, unknown>, field: DescField, value: unknown): void {
  if (field.oneof) message[field.oneof.localName] = { case: field.localName, value };
  else message[field.localName] = value;
}

/**
 * A hostile value for `field` of a message at `depth`. Sizes shrink with depth
 * so that every message stays under gRPC's 4 MiB: a very long string only at
 * the top, long lists only of short elements, nested lists short.
 */
function hostileValue(random: Random, field: DescField, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return hostileScalar(random, field.scalar, depth === 0 ? 100_000 : 2000);
    case "enum":
      return hostileEnum(random);
    case "message":
      return depth >= 3 ? create(field.message) : hostileMessage(random, field.message, depth + 1);
    case "list": {
      const length = depth === 0 ? random.pick([0, 1, 2, 101, 1000]) : random.pick([0, 1, 2, 3]);
      return Array.from({ length }, () => {
        if (field.listKind === "scalar") return hostileScalar(random, field.scalar, length > 100 ? 300 : 2000);
        if (field.listKind === "enum") return hostileEnum(random);
        return depth >= 2 || length > 100 ? create(field.message) : hostileMessage(random, field.message, depth + 1);
      });
    }
    case "map":
      return {};
  }
}

const hostileEnum = (random: Random) => random.pick([0, 1, 2, 3, 4, -1, 999, 2 ** 31 - 1, -(2 ** 31)]);

function hostileScalar(random: Random, type: ScalarType, maxLength: number): unknown {
  switch (type) {
    case ScalarType.STRING:
      return random.hostileString(maxLength);
    case ScalarType.BYTES:
      return new Uint8Array(random.bytes(random.int(0, 300)));
    case ScalarType.BOOL:
      return random.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return random.hostileNumber();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return random.pick([0, -1, 1, -(2 ** 31), 2 ** 31 - 1, random.int(-1000, 1000)]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return random.pick([0, 1, 2 ** 32 - 1, 2 ** 31, random.int(0, 100_000)]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return random.pick([0n, 1n, 2n ** 53n + 1n, 2n ** 64n - 1n]);
    default:
      // int64, sint64, sfixed64
      return random.pick([0n, -1n, 1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, BigInt(random.int(-1e9, 1e9))]);
  }
}

/** `bytes` damaged the ways a broken or malicious peer damages them. */
function damaged(random: Random, input: DescMessage, bytes: Buffer): Buffer {
  const field = input.fields.length > 0 ? random.pick(input.fields) : undefined;
  const number = field?.number ?? 1;
  switch (random.int(0, 6)) {
    case 0: {
      // Flip a few bytes.
      const copy = Buffer.from(bytes);
      for (let i = 0; i < random.int(1, 4) && copy.length > 0; i++) copy[random.int(0, copy.length - 1)] = random.int(0, 255);
      return copy;
    }
    case 1:
      // Cut short, often mid-field.
      return bytes.subarray(0, random.int(0, Math.max(0, bytes.length - 1)));
    case 2:
      // A known field again with the wrong wire type (a varint where a string goes, and so on).
      return Buffer.concat([bytes, wrongWireType(random, field, number)]);
    case 3: {
      // A length prefix far longer than what follows.
      const writer = new BinaryWriter().tag(number, WireType.LengthDelimited).uint32(random.pick([1000, 2 ** 31 - 1, 2 ** 32 - 1]));
      return Buffer.concat([bytes, Buffer.from(writer.finish()), random.bytes(random.int(0, 8))]);
    }
    case 4:
      // Wire types that do not exist (6, 7) or unmatched group markers (3, 4).
      return Buffer.concat([bytes, Buffer.from([(number << 3) | random.pick([3, 4, 6, 7]), ...random.bytes(4)])]);
    case 5:
      // Unknown fields, including a huge field number.
      return Buffer.concat([bytes, Buffer.from(new BinaryWriter().tag(random.pick([99, 536870911]), WireType.LengthDelimited).bytes(random.bytes(random.int(0, 50))).finish())]);
    default:
      // An overlong varint (11 bytes of continuation).
      return Buffer.concat([bytes, Buffer.from([(number << 3) | WireType.Varint, ...Array(11).fill(0xff), 0x01])]);
  }
}

function wrongWireType(random: Random, field: DescField | undefined, number: number): Buffer {
  const writer = new BinaryWriter();
  const expectsLength = field !== undefined && (field.fieldKind !== "scalar" || field.scalar === ScalarType.STRING || field.scalar === ScalarType.BYTES);
  if (!expectsLength) writer.tag(number, WireType.LengthDelimited).bytes(random.bytes(random.int(0, 40)));
  else {
    const wireType = random.pick([WireType.Varint, WireType.Bit64, WireType.Bit32]);
    writer.tag(number, wireType);
    if (wireType === WireType.Varint) writer.uint32(random.int(0, 2 ** 31 - 1));
    else if (wireType === WireType.Bit64) writer.fixed64(BigInt(random.int(0, 2 ** 31 - 1)));
    else writer.fixed32(random.int(0, 2 ** 31 - 1));
  }
  return Buffer.from(writer.finish());
}
