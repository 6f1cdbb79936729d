import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ROOT } from "./repo.js";

/**
 * A client that knows the contracts only from the .proto sources, through
 * @grpc/proto-loader (protobufjs), never through the ts-proto stubs the
 * services are built with. If both agree on the wire, examples pass; if the
 * generated code drifted from the .proto, they do not. Field names are the
 * proto names (keepCase), int64 are numbers, enums their names.
 */

const PROTO_DIRS = [join(ROOT, "proto"), join(ROOT, "third_party", "proto")];

function protoFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".proto"))
    .map((name) => relative(PROTO_DIRS[0]!, join(dir, name)))
    .sort();
}

let definition: protoLoader.PackageDefinition | undefined;

export function packageDefinition(): protoLoader.PackageDefinition {
  return (definition ??= protoLoader.loadSync(protoFiles(join(ROOT, "proto", "bazaar")), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
    oneofs: true,
    includeDirs: PROTO_DIRS,
  }));
}

/** The method names of a service, as the .proto declares them. */
export function methodsOf(serviceName: string): string[] {
  return Object.values(serviceDefinition(serviceName)).map((method) => method.path.split("/")[2]!);
}

function serviceDefinition(serviceName: string): grpc.ServiceDefinition {
  const service = packageDefinition()[serviceName];
  if (!service || "format" in service) throw new Error(`${serviceName} is not a service of proto/`);
  return service as grpc.ServiceDefinition;
}

export type CallOutcome =
  | { ok: true; response: Record<string, unknown> }
  | { ok: false; error: grpc.ServiceError };

export interface DynamicClient {
  call(method: string, request: unknown, metadata?: Record<string, string>, deadlineMs?: number): Promise<CallOutcome>;
  close(): void;
}

export function dynamicClient(serviceName: string, address: string): DynamicClient {
  const service = serviceDefinition(serviceName);
  const Client = grpc.makeGenericClientConstructor(service, serviceName);
  const client = new Client(address, grpc.credentials.createInsecure());
  return {
    call(method, request, metadata = {}, deadlineMs = 5000) {
      const definition = Object.values(service).find((candidate) => candidate.path.endsWith(`/${method}`));
      if (!definition) throw new Error(`${serviceName} has no method ${method} in proto/`);
      const meta = new grpc.Metadata();
      for (const [key, value] of Object.entries(metadata)) meta.set(key, value);
      return new Promise((resolve) => {
        client.makeUnaryRequest(
          definition.path,
          definition.requestSerialize,
          definition.responseDeserialize,
          request,
          meta,
          { deadline: Date.now() + deadlineMs },
          (error, response) =>
            resolve(error ? { ok: false, error } : { ok: true, response: response as Record<string, unknown> }),
        );
      });
    },
    close: () => client.close(),
  };
}
