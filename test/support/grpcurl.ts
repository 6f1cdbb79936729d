/**
 * What grpcurl does with nothing but an address: ask server reflection for the
 * file that defines a service, follow its imports, then call a method with a
 * JSON request and read the JSON answer. No generated code is involved, so a
 * test using it proves that reflection alone is enough to use the service.
 */
import * as grpc from "@grpc/grpc-js";
import { create, createFileRegistry, fromBinary, fromJson, type FileRegistry, type JsonValue, toBinary, toJson } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { ReflectionClient } from "../../lib/test/support/reflection-client.js";

/** The files defining `symbol` and everything they import, as reflection serves them. */
async function filesFor(reflection: ReflectionClient, symbol: string): Promise<Map<string, FileDescriptorProto>> {
  const files = new Map<string, FileDescriptorProto>();
  const add = async (request: Parameters<ReflectionClient["ask"]>[0]) => {
    const response = await reflection.ask(request);
    if (response.errorResponse) throw new Error(`reflection: ${response.errorResponse.errorMessage}`);
    for (const bytes of response.fileDescriptorResponse?.fileDescriptorProto ?? []) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      files.set(file.name, file);
    }
  };
  await add({ fileContainingSymbol: symbol });
  for (;;) {
    const missing = [...files.values()].flatMap((file) => file.dependency).filter((name) => !files.has(name));
    if (missing.length === 0) return files;
    for (const name of new Set(missing)) await add({ fileByFilename: name });
  }
}

/** A registry needs imports before importers; it throws if one is missing. */
function registryOf(files: Map<string, FileDescriptorProto>): FileRegistry {
  const ordered: FileDescriptorProto[] = [];
  const visit = (name: string) => {
    const file = files.get(name);
    if (!file || ordered.includes(file)) return;
    file.dependency.forEach(visit);
    ordered.push(file);
  };
  [...files.keys()].forEach(visit);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

/**
 * `grpcurl -cacert ca.pem -cert <identity>.pem -key <identity>-key.pem -d '<json>' <address> <service>/<method>`
 * (`credentials` from that identity; plaintext when omitted): the request and
 * the answer in the proto3 JSON mapping. Rejects with the call's ServiceError.
 */
export async function grpcurl(
  address: string,
  fullMethod: string,
  request: JsonValue,
  credentials = grpc.credentials.createInsecure(),
): Promise<JsonValue> {
  const [serviceName, methodName] = fullMethod.split("/") as [string, string];
  const reflection = new ReflectionClient(address, "v1", credentials);
  let registry: FileRegistry;
  try {
    registry = registryOf(await filesFor(reflection, serviceName));
  } finally {
    reflection.close();
  }
  const method = registry.getService(serviceName)?.methods.find((candidate) => candidate.name === methodName);
  if (!method) throw new Error(`reflection does not know ${fullMethod}`);

  const client = new grpc.Client(address, credentials);
  try {
    const response = await new Promise<Uint8Array>((resolve, reject) => {
      client.makeUnaryRequest(
        `/${serviceName}/${methodName}`,
        () => Buffer.from(toBinary(method.input, fromJson(method.input, request, { registry }))),
        (bytes: Buffer) => new Uint8Array(bytes),
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + 30_000 },
        (error, bytes) => (error ? reject(error) : resolve(bytes!)),
      );
    });
    return toJson(method.output, fromBinary(method.output, response), { registry });
  } finally {
    client.close();
  }
}
