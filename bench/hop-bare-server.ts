/**
 * The floor for the hop benchmark: a bare grpc-js server with no middleware,
 * answering CatalogService.GetProduct with one response held in memory and
 * encoded by the same generated (ts-proto) serializers the catalog uses.
 * With a certificate directory it serves mutual TLS with the catalog's
 * certificate, requiring a client certificate of the CA: the same server
 * credentials the runtime makes (lib/src/security/transport.ts), nothing else.
 *
 * Usage: node --import tsx bench/hop-bare-server.ts <port> <response.json> [tls dir]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { CatalogServiceService, GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";

const [port, responseFile, tlsDir] = process.argv.slice(2);
const response = GetProductResponse.fromJSON(JSON.parse(readFileSync(responseFile!, "utf8")));
const pem = (file: string) => readFileSync(join(tlsDir!, file));
const credentials = tlsDir
  ? grpc.ServerCredentials.createSsl(pem("ca.pem"), [{ cert_chain: pem("catalog.pem"), private_key: pem("catalog-key.pem") }], true)
  : grpc.ServerCredentials.createInsecure();

const server = new grpc.Server();
server.addService({ getProduct: CatalogServiceService.getProduct }, {
  getProduct: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<GetProductResponse>) => callback(null, response),
});
server.bindAsync(`127.0.0.1:${port}`, credentials, (error) => {
  if (error) throw error;
  console.log("serving");
});
process.once("SIGTERM", () => server.forceShutdown());
