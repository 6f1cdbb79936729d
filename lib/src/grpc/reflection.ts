import * as grpc from "@grpc/grpc-js";
import { toBinary, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as v1 from "@bazaar/gen/grpc/reflection/v1/reflection";
import * as v1alpha from "@bazaar/gen/grpc/reflection/v1alpha/reflection";

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

/**
 * gRPC server reflection, served under both grpc.reflection.v1 and v1alpha
 * (grpcurl, Postman and older clients still speak v1alpha; the messages are the
 * same). It answers from the FileDescriptorSet `make gen` writes with every
 * import included, so a client that knows only the address can resolve every
 * file it needs, down to google/protobuf/*.proto, exactly as buf compiled them.
 */
export class Reflection {
  private readonly fileBytes = new Map<string, Uint8Array>();
  private readonly fileDependencies = new Map<string, readonly string[]>();

  /**
   * `registry`: the compiled contracts (contracts.ts parses them once per process, for
   * reflection and the events alike). `services`: the names to list, i.e. what the
   * server really serves.
   */
  constructor(
    private readonly registry: FileRegistry,
    private readonly services: () => readonly string[],
  ) {
    for (const { proto } of registry.files) {
      this.fileBytes.set(proto.name, toBinary(FileDescriptorProtoSchema, proto));
      this.fileDependencies.set(proto.name, proto.dependency);
    }
  }

  addTo(server: grpc.Server): void {
    const handler = (stream: grpc.ServerDuplexStream<Request, Response>) => {
      stream.on("data", (request: Request) => {
        // A client that sends and never reads must not make us buffer its answers without end:
        // stop reading its requests until what is written has gone out (HTTP/2 flow control
        // then holds the client back).
        if (!stream.write(this.answer(request))) {
          stream.pause();
          stream.once("drain", () => stream.resume());
        }
      });
      stream.on("end", () => stream.end());
    };
    server.addService(v1.ServerReflectionService, { serverReflectionInfo: handler });
    server.addService(v1alpha.ServerReflectionService, { serverReflectionInfo: handler });
  }

  /** One response to one request; lookup failures are error responses, never stream errors. */
  answer(request: Request): Response {
    const response: Response = { validHost: request.host, originalRequest: request };
    try {
      if (request.listServices !== undefined) {
        response.listServicesResponse = { service: this.services().map((name) => ({ name })) };
      } else if (request.fileByFilename !== undefined) {
        response.fileDescriptorResponse = this.filesWithImports(this.requireFile(request.fileByFilename));
      } else if (request.fileContainingSymbol !== undefined) {
        response.fileDescriptorResponse = this.filesWithImports(this.fileOfSymbol(request.fileContainingSymbol));
      } else if (request.fileContainingExtension !== undefined) {
        const { containingType, extensionNumber } = request.fileContainingExtension;
        const extendee = this.registry.getMessage(containingType);
        const extension = extendee && this.registry.getExtensionFor(extendee, extensionNumber);
        if (!extension) throw new LookupError(`extension ${extensionNumber} of ${containingType} not found`);
        response.fileDescriptorResponse = this.filesWithImports(extension.file.proto.name);
      } else if (request.allExtensionNumbersOfType !== undefined) {
        const baseTypeName = request.allExtensionNumbersOfType;
        if (!this.registry.getMessage(baseTypeName)) throw new LookupError(`type not found: ${baseTypeName}`);
        const extensionNumber: number[] = [];
        for (const desc of this.registry) {
          if (desc.kind === "extension" && desc.extendee.typeName === baseTypeName) extensionNumber.push(desc.number);
        }
        response.allExtensionNumbersResponse = { baseTypeName, extensionNumber };
      } else {
        response.errorResponse = { errorCode: grpc.status.INVALID_ARGUMENT, errorMessage: "empty reflection request" };
      }
    } catch (error) {
      if (!(error instanceof LookupError)) throw error;
      response.errorResponse = { errorCode: grpc.status.NOT_FOUND, errorMessage: error.message };
    }
    return response;
  }

  private requireFile(name: string): string {
    if (!this.fileBytes.has(name)) throw new LookupError(`file not found: ${name}`);
    return name;
  }

  /** The file declaring a message, enum, service, extension, or a field, method or enum value of one. */
  private fileOfSymbol(symbol: string): string {
    const desc = this.registry.get(symbol);
    if (desc) return desc.file.proto.name;
    const dot = symbol.lastIndexOf(".");
    const parent = this.registry.get(symbol.slice(0, dot));
    const member = symbol.slice(dot + 1);
    const hasMember =
      (parent?.kind === "message" && parent.fields.some((field) => field.name === member)) ||
      (parent?.kind === "service" && parent.methods.some((method) => method.name === member)) ||
      (parent?.kind === "enum" && parent.values.some((value) => value.name === member));
    if (!parent || !hasMember) throw new LookupError(`symbol not found: ${symbol}`);
    return parent.file.proto.name;
  }

  /**
   * `name` first, then its transitive imports. Always the whole closure: it is a
   * few kilobytes, and a client then never depends on what it cached earlier.
   */
  private filesWithImports(name: string): v1.FileDescriptorResponse {
    const seen = new Set<string>();
    const fileDescriptorProto: Buffer[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      fileDescriptorProto.push(Buffer.from(this.fileBytes.get(file)!));
      for (const dependency of this.fileDependencies.get(file) ?? []) visit(dependency);
    };
    visit(name);
    return { fileDescriptorProto };
  }
}

class LookupError extends Error {}
