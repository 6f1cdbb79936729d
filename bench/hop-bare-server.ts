/**
 * The floor for the hop benchmark: a bare grpc-js server with no middleware,
 * answering CatalogService.GetProduct with one response held in memory and
 * encoded by the same generated (ts-proto) serializers the catalog uses.
 *
 * Usage: node --import tsx bench/hop-bare-server.ts <port> <response.json>
 */
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { CatalogServiceService, GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";

const [port, responseFile] = process.argv.slice(2);
const response = GetProductResponse.fromJSON(JSON.parse(readFileSync(responseFile!, "utf8")));

const server = new grpc.Server();
server.addService({ getProduct: CatalogServiceService.getProduct }, {
  getProduct: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<GetProductResponse>) => callback(null, response),
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) throw error;
  console.log("serving");
});
process.once("SIGTERM", () => server.forceShutdown());
