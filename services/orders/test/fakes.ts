import * as grpc from "@grpc/grpc-js";
import { DomainError } from "@bazaar/runtime/errors";
import { toStatus } from "@bazaar/runtime/grpc/status";
import { bindServer } from "@bazaar/runtime/grpc/server";

/**
 * Fake dependencies at orders' edges: a real gRPC server on a free port of
 * 127.0.0.1 serving a generated definition, whose every method does what the
 * current test says (answer, fail with a status, never answer) and records the
 * requests it got. Orders cannot tell it from the real service.
 */

type RequestOf<M> = M extends { requestDeserialize(bytes: Buffer): infer R } ? R : never;
type ResponseOf<M> = M extends { responseSerialize(value: infer R): Buffer } ? R : never;

/** What one method does with a request: return the response, or throw a DomainError for a status. */
export type Behaviour<M> = (request: RequestOf<M>) => ResponseOf<M> | Promise<ResponseOf<M>>;
export type Behaviours<D> = { -readonly [K in keyof D]: Behaviour<D[K]> };

export interface Fake<D> {
  address: string;
  /** What each method does now; a test replaces entries, reset() puts the defaults back. */
  behave: Behaviours<D>;
  /** The requests `method` received since the last reset, oldest first. */
  requests<K extends keyof D>(method: K): Array<RequestOf<D[K]>>;
  reset(): void;
  stop(): void;
}

/** A method that never answers: the caller's deadline is what ends the call. */
export const neverAnswers = (): Promise<never> => new Promise(() => {});

export async function startFake<D extends grpc.ServiceDefinition>(definition: D, defaults: Behaviours<D>): Promise<Fake<D>> {
  const received = new Map<keyof D, unknown[]>();
  const server = new grpc.Server();
  const fake: Fake<D> = {
    address: "",
    behave: { ...defaults },
    requests: (method) => [...(received.get(method) ?? [])] as Array<RequestOf<D[typeof method]>>,
    reset() {
      fake.behave = { ...defaults };
      received.clear();
    },
    stop: () => server.forceShutdown(),
  };

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(definition) as Array<keyof D & string>) {
    implementation[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      received.set(name, [...(received.get(name) ?? []), call.request]);
      const behaviour = fake.behave[name] as (request: unknown) => unknown;
      Promise.resolve()
        .then(() => behaviour(call.request))
        .then(
          (response) => callback(null, response),
          (error: unknown) =>
            callback(error instanceof DomainError ? toStatus(error) : { code: grpc.status.INTERNAL, details: String(error) }),
        );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  server.addService(definition, implementation);
  fake.address = `127.0.0.1:${await bindServer(server, "127.0.0.1:0")}`;
  return fake;
}
