import * as grpc from "@grpc/grpc-js";

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

export const insecureClient = (address: string): grpc.Client => new grpc.Client(address, grpc.credentials.createInsecure());
