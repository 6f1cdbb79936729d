import * as grpc from "@grpc/grpc-js";
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

  close(): void {
    this.stream.end();
    this.client.close();
  }
}
