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
  private readonly waiting: Array<(response: Response) => void> = [];

  constructor(address: string, version: "v1" | "v1alpha") {
    const method = (version === "v1" ? v1.ServerReflectionService : v1alpha.ServerReflectionService).serverReflectionInfo;
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
    this.stream = this.client.makeBidiStreamRequest(
      method.path,
      (request: Request) => Buffer.from(v1.ServerReflectionRequest.encode(v1.ServerReflectionRequest.fromPartial(request)).finish()),
      (bytes: Buffer) => v1.ServerReflectionResponse.decode(bytes),
      new grpc.Metadata(),
      { deadline: Date.now() + 20_000 },
    );
    this.stream.on("data", (response: Response) => this.waiting.shift()?.(response));
    this.stream.on("error", () => {});
  }

  ask(request: Request): Promise<Response> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.stream.write({ host: "", ...request });
    });
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }
}
