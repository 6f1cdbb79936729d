import * as grpc from "@grpc/grpc-js";
import { CatalogServiceService, type GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { afterAll, describe, expect, it } from "vitest";
import { createClient } from "@bazaar/runtime/grpc/client";
import { bindServer, SERVER_OPTIONS } from "@bazaar/runtime/grpc/server";

// No service serves channelz, so the runtime turns it off: with it on, grpc-js
// registers every server and channel and counts each of their calls and messages.

const handlers = grpc.getChannelzHandlers();

/** How many servers and top-level channels grpc-js's channelz registry holds in this process. */
async function registered(): Promise<{ servers: number; channels: number }> {
  const list = <T>(handler: (call: never, callback: grpc.sendUnaryData<T>) => void, request: object) =>
    new Promise<T>((resolve, reject) => handler({ request } as never, (error, response) => (error ? reject(error) : resolve(response!))));
  const servers = await list(handlers.GetServers as never, { start_server_id: 0, max_results: 1000 });
  const channels = await list(handlers.GetTopChannels as never, { start_channel_id: 0, max_results: 1000 });
  return { servers: (servers as { server: unknown[] }).server.length, channels: (channels as { channel: unknown[] }).channel.length };
}

const servers: grpc.Server[] = [];
afterAll(() => servers.forEach((server) => server.forceShutdown()));

async function serve(options: grpc.ServerOptions): Promise<number> {
  const server = new grpc.Server(options);
  server.addService(CatalogServiceService, {
    getProduct: (_call: unknown, callback: grpc.sendUnaryData<GetProductResponse>) => callback(null, { product: undefined }),
  } as unknown as grpc.UntypedServiceImplementation);
  servers.push(server);
  return bindServer(server, "127.0.0.1:0");
}

describe("channelz", () => {
  it("is off for the runtime's servers and clients: a call through them registers nothing", async () => {
    const before = await registered();
    const port = await serve(SERVER_OPTIONS);
    const catalog = createClient(CatalogServiceService, `127.0.0.1:${port}`, { deadlineMs: 5000, breaker: false });
    await catalog.getProduct({ id: "v60-dripper" });
    expect(await registered()).toEqual(before);
    catalog.close();
  });

  it("registers a server and a channel with grpc-js's defaults (what the check above would see)", async () => {
    const before = await registered();
    const port = await serve({});
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5000, (error) => (error ? reject(error) : resolve())));
    expect(await registered()).toEqual({ servers: before.servers + 1, channels: before.channels + 1 });
    client.close();
  });
});
