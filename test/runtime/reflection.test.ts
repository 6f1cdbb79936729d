import { connect } from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogService } from "../../services/catalog/src/service.js";
import { migrationsDir } from "../../services/catalog/src/store.js";
import { contractRegistry } from "@bazaar/runtime/contracts";
import * as v1 from "@bazaar/gen/grpc/reflection/v1/reflection";
import { Reflection } from "@bazaar/runtime/grpc/reflection";
import { startTestService } from "@bazaar/runtime/testing";
import { ReflectionClient, registryOf } from "../../lib/test/support/reflection-client.js";

// What grpcurl does against a server it knows only by address: list services,
// fetch the file of each, follow every import, then call a method it has just
// learned about. Run once per reflection version.

let service: Awaited<ReturnType<typeof startTestService>>;
beforeAll(async () => {
  service = await startTestService("catalog", { migrationsDir, services: [catalogService] });
});
afterAll(() => service?.stop());

function callDynamic(address: string, path: string, input: DescMessage, output: DescMessage, request: Record<string, unknown>) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      () => Buffer.from(toBinary(input, create(input, request))),
      (bytes: Buffer) => fromBinary(output, bytes) as unknown as Record<string, unknown>,
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (error, response) => {
        client.close();
        if (error) reject(error);
        else resolve(response!);
      },
    );
  });
}

describe.each(["v1", "v1alpha"] as const)("server reflection %s", (version) => {
  let client: ReflectionClient;
  beforeAll(() => {
    client = new ReflectionClient(service.address, version);
  });
  afterAll(() => client.close());

  it("lists the catalog, health and both reflection services", async () => {
    const response = await client.ask({ listServices: "*" });
    const names = response.listServicesResponse!.service.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "bazaar.catalog.v1.CatalogService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it("resolves every listed service to a complete set of files", async () => {
    const response = await client.ask({ listServices: "*" });
    for (const { name } of response.listServicesResponse!.service) {
      const registry = registryOf(await client.filesFor(name));
      expect(registry.getService(name), name).toBeDefined();
    }
  });

  it("serves the imports with the catalog, down to the well-known types", async () => {
    const files = await client.filesFor("bazaar.catalog.v1.CatalogService");
    expect([...files.keys()].sort()).toEqual(["bazaar/catalog/v1/catalog.proto", "bazaar/common/v1/money.proto", "google/protobuf/duration.proto"]);
    const orders = await client.filesFor("bazaar.orders.v1.OrderPlaced");
    expect([...orders.keys()]).toEqual(
      expect.arrayContaining(["google/protobuf/timestamp.proto", "google/protobuf/descriptor.proto", "bazaar/options/v1/options.proto"]),
    );
  });

  it("finds files by method, field and enum value symbols, and by extension", async () => {
    for (const symbol of [
      "bazaar.catalog.v1.CatalogService.GetProduct",
      "bazaar.catalog.v1.Product.price",
      "bazaar.orders.v1.OrderStatus.ORDER_STATUS_CONFIRMED",
    ]) {
      const response = await client.ask({ fileContainingSymbol: symbol });
      expect(response.errorResponse, symbol).toBeUndefined();
    }
    const extension = await client.ask({
      fileContainingExtension: { containingType: "google.protobuf.MessageOptions", extensionNumber: 50001 },
    });
    const file = fromBinary(FileDescriptorProtoSchema, extension.fileDescriptorResponse!.fileDescriptorProto[0]!);
    expect(file.name).toBe("bazaar/options/v1/options.proto");
    const numbers = await client.ask({ allExtensionNumbersOfType: "google.protobuf.MessageOptions" });
    expect(numbers.allExtensionNumbersResponse!.extensionNumber).toContain(50001);
  });

  it("answers NOT_FOUND for what does not exist, and keeps the stream open", async () => {
    const symbol = await client.ask({ fileContainingSymbol: "bazaar.catalog.v1.Nope" });
    expect(symbol.errorResponse!.errorCode).toBe(grpc.status.NOT_FOUND);
    const file = await client.ask({ fileByFilename: "nope.proto" });
    expect(file.errorResponse!.errorCode).toBe(grpc.status.NOT_FOUND);
    const field = await client.ask({ fileContainingSymbol: "bazaar.catalog.v1.Product.nope" });
    expect(field.errorResponse!.errorCode).toBe(grpc.status.NOT_FOUND);
    expect((await client.ask({ listServices: "*" })).listServicesResponse).toBeDefined();
  });

  it("lets a reflection-only client page through every product", async () => {
    const registry = registryOf(await client.filesFor("bazaar.catalog.v1.CatalogService"));
    const method = registry.getService("bazaar.catalog.v1.CatalogService")!.methods.find((m) => m.name === "ListProducts")!;
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await callDynamic(service.address, "/bazaar.catalog.v1.CatalogService/ListProducts", method.input, method.output, {
        pageSize: 7,
        pageToken,
      });
      ids.push(...(page.products as Array<{ id: string }>).map((product) => product.id));
      pageToken = page.nextPageToken as string;
    } while (pageToken !== "");
    expect(ids.length).toBeGreaterThanOrEqual(20);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

it("re-encodes each file exactly as buf compiled it", async () => {
  // Sanity check on the descriptor set itself: what reflection serves must be
  // the very bytes a client can parse back into the same file.
  const client = new ReflectionClient(service.address, "v1");
  const response = await client.ask({ fileByFilename: "bazaar/catalog/v1/catalog.proto" });
  client.close();
  const [first] = response.fileDescriptorResponse!.fileDescriptorProto;
  const file = fromBinary(FileDescriptorProtoSchema, first!);
  expect(Buffer.from(toBinary(FileDescriptorProtoSchema, file))).toEqual(Buffer.from(first!));
  expect(file.service[0]!.method.map((m) => m.name)).toEqual(["GetProduct", "BatchGetProducts", "ListProducts"]);
});

describe("a reflection client that sends and never reads", () => {
  it("is held back by flow control: the server stops reading its requests instead of buffering answers without end", async () => {
    let answered = 0;
    const reflection = new Reflection(contractRegistry(), () => ["bazaar.catalog.v1.CatalogService"]);
    const answer = reflection.answer.bind(reflection);
    reflection.answer = (request) => ((answered += 1), answer(request));
    const server = new grpc.Server();
    reflection.addTo(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    // A plain HTTP/2 client, so that not reading really leaves the bytes unread (a gRPC client library would read them into its own memory).
    const session = connect(`http://127.0.0.1:${port}`);
    const method = v1.ServerReflectionService.serverReflectionInfo;
    const stream = session.request({ ":method": "POST", ":path": method.path, "content-type": "application/grpc", te: "trailers" });
    stream.pause();
    // The server is shut down under this client at the end: its resets are expected.
    session.on("error", () => {});
    stream.on("error", () => {});
    try {
      // Each answer carries the catalog's file and its imports: kilobytes, never read by this client.
      const sent = 5000;
      const body = Buffer.from(method.requestSerialize({ host: "", fileContainingSymbol: "bazaar.catalog.v1.CatalogService" }));
      const frame = Buffer.concat([Buffer.from([0]), Buffer.from(new Uint32Array([0]).buffer), body]);
      frame.writeUInt32BE(body.length, 1);
      for (let i = 0; i < sent; i++) stream.write(frame);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(answered).toBeGreaterThan(0);
      expect(answered).toBeLessThan(sent / 10);
      // Once the client reads, every request is answered.
      stream.resume();
      await expect.poll(() => answered, { timeout: 20_000 }).toBe(sent);
    } finally {
      stream.close();
      session.close();
      server.forceShutdown();
    }
  });
});
