import * as grpc from "@grpc/grpc-js";
import { createTransport } from "@bazaar/runtime/security/transport";

/** One unary method of a generated grpc-js definition, as much as a raw client needs. */
export interface Method<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

/**
 * A raw grpc-js unary call with a deadline, on a plain grpc.Client: the bench
 * measures the services, so its own client stays the thinnest grpc-js allows
 * (and does not depend on the runtime's client, which has its own policies).
 */
export function unary<Req, Res>(client: grpc.Client, method: Method<Req, Res>, request: Req, deadlineMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error, response) => (error ? reject(error) : resolve(response!)),
    );
  });
}

/** Plaintext: only for servers started with TLS_MODE=insecure (or the bare grpc-js server without TLS). */
export const insecureClient = (address: string): grpc.Client => new grpc.Client(address, grpc.credentials.createInsecure());

/**
 * Mutual TLS as `identity` (its certificate from `tlsDir`), expecting the server
 * to be `peer`: the credentials the mesh's own clients use, so the server's
 * authorization policy applies (e.g. the gateway may call orders' PlaceOrder).
 * The TLS server name is the peer's (a DNS SAN of its certificate): Node warns
 * about an IP address there, and the identity check ignores the name anyway.
 */
export const mtlsClient = (address: string, tlsDir: string, identity: string, peer: string): grpc.Client =>
  new grpc.Client(address, createTransport({ TLS_MODE: "mtls", TLS_DIR: tlsDir }, identity).client(peer), {
    "grpc.ssl_target_name_override": peer,
  });
