import * as grpc from "@grpc/grpc-js";
import { create, createFileRegistry, fromBinary, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import * as v1 from "@bazaar/gen/grpc/reflection/v1/reflection";
import * as v1alpha from "@bazaar/gen/grpc/reflection/v1alpha/reflection";

type Request = Partial<v1.ServerReflectionRequest>;
type Response = v1.ServerReflectionResponse;

/**
 * A reflection client that knows nothing but an address, like grpcurl: one
 * bidirectional stream, one request at a time. `version` picks the v1 or the
 * v1alpha service (same messages, different service name).
 */
export class ReflectionClient {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<Request, Response>;
  private readonly waiting: Array<{ resolve: (response: Response) => void; reject: (error: Error) => void }> = [];
  private failed: Error | undefined;

  constructor(address: string, version: "v1" | "v1alpha", credentials = grpc.credentials.createInsecure()) {
    const method = (version === "v1" ? v1.ServerReflectionService : v1alpha.ServerReflectionService).serverReflectionInfo;
    this.client = new grpc.Client(address, credentials);
    this.stream = this.client.makeBidiStreamRequest(
      method.path,
      (request: Request) => Buffer.from(v1.ServerReflectionRequest.encode(v1.ServerReflectionRequest.fromPartial(request)).finish()),
      (bytes: Buffer) => v1.ServerReflectionResponse.decode(bytes),
      new grpc.Metadata(),
      { deadline: Date.now() + 20_000 },
    );
    this.stream.on("data", (response: Response) => this.waiting.shift()?.resolve(response));
    // A stream that fails (refused, no certificate, not allowed) fails every question, asked or to come.
    this.stream.on("error", (error: Error) => {
      this.failed = error;
      this.waiting.splice(0).forEach((waiter) => waiter.reject(error));
    });
  }

  ask(request: Request): Promise<Response> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.waiting.push({ resolve, reject });
      this.stream.write({ host: "", ...request });
    });
  }

  /** The files defining `symbol` and everything they import, asking by file name for imports not yet received. */
  async filesFor(symbol: string): Promise<Map<string, FileDescriptorProto>> {
    const files = new Map<string, FileDescriptorProto>();
    const add = async (request: Request) => {
      const response = await this.ask(request);
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

  close(): void {
    this.stream.end();
    this.client.close();
  }
}

/**
 * A registry of files reflection served. It wants imports before importers and
 * throws if any import is missing: the proof that reflection served a complete set.
 */
export function registryOf(files: Map<string, FileDescriptorProto>): FileRegistry {
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
