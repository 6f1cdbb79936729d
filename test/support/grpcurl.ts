/**
 * What grpcurl does with nothing but an address: ask server reflection for the
 * file that defines a service, follow its imports, then call a method with a
 * JSON request and read the JSON answer. No generated code is involved, so a
 * test using it proves that reflection alone is enough to use the service.
 */
import * as grpc from "@grpc/grpc-js";
import { fromBinary, fromJson, type FileRegistry, type JsonValue, toBinary, toJson } from "@bufbuild/protobuf";
import { ReflectionClient, registryOf } from "../../lib/test/support/reflection-client.js";

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
    registry = registryOf(await reflection.filesFor(serviceName));
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
