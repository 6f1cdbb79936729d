import * as grpc from "@grpc/grpc-js";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
  type HealthServer,
} from "@bazaar/gen/grpc/health/v1/health";

export { ServingStatus };

/**
 * grpc.health.v1.Health (Check, Watch, List) over a status per service name;
 * "" is the server as a whole. Statuses start NOT_SERVING and change only when
 * the service says so: after its database is ready, and again at shutdown.
 */
export class Health {
  private readonly statuses = new Map<string, ServingStatus>();
  /** Watchers of each known service. Keyed only by the names this server has: a caller's names add no keys. */
  private readonly watchers = new Map<string, Set<grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>>();
  /** Watchers of names this server does not have: held open (the protocol says so), ended at shutdown. */
  private readonly unknownWatchers = new Set<grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();

  constructor(serviceNames: readonly string[]) {
    for (const name of ["", ...serviceNames]) this.statuses.set(name, ServingStatus.NOT_SERVING);
  }

  /** Set every service's status (the server's dependencies are shared by all). */
  setAll(status: ServingStatus): void {
    for (const name of this.statuses.keys()) this.set(name, status);
  }

  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const stream of this.watchers.get(service) ?? []) stream.write({ status });
  }

  status(service = ""): ServingStatus {
    return this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
  }

  /** Report NOT_SERVING to every watcher, then close their streams so the server can drain. */
  shutdown(): void {
    this.setAll(ServingStatus.NOT_SERVING);
    for (const streams of this.watchers.values()) for (const stream of streams) stream.end();
    for (const stream of this.unknownWatchers) stream.end();
    this.watchers.clear();
    this.unknownWatchers.clear();
  }

  addTo(server: grpc.Server): void {
    const implementation: HealthServer = {
      check: (call, callback) => {
        if (call.request === MALFORMED) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: "request to /grpc.health.v1.Health/Check is not a valid protobuf message" });
          return;
        }
        const status = this.statuses.get(call.request.service);
        if (status === undefined) {
          // Bounded: the name is the caller's, and a status must fit in HTTP/2 trailers.
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service: ${call.request.service.slice(0, 200)}` });
        } else {
          callback(null, { status });
        }
      },
      watch: (call) => {
        if (call.request === MALFORMED) {
          call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "request to /grpc.health.v1.Health/Watch is not a valid protobuf message" });
          return;
        }
        const service = call.request.service;
        // The set of services is fixed when the server starts, so an unknown name stays unknown:
        // its watcher is told so once, and kept only to be ended at shutdown. Memory grows with
        // open streams (which HTTP/2 bounds), never with the names callers make up.
        const streams = this.statuses.has(service) ? (this.watchers.get(service) ?? new Set()) : this.unknownWatchers;
        if (streams !== this.unknownWatchers) this.watchers.set(service, streams);
        streams.add(call);
        call.on("cancelled", () => streams.delete(call));
        call.write({ status: this.status(service) });
      },
      list: (_call, callback) => {
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const [name, status] of this.statuses) statuses[name] = { status };
        callback(null, { statuses });
      },
    };
    server.addService(tolerantOf(HealthService), implementation);
  }
}

/**
 * Request bytes that do not decode. grpc-js answers INTERNAL when a
 * deserializer throws, but the fault is the client's: Check and Watch answer
 * INVALID_ARGUMENT instead (as every service method does, see server.ts);
 * List reads nothing from its request.
 */
const MALFORMED = {} as HealthCheckRequest;

function tolerantOf(definition: typeof HealthService): typeof HealthService {
  const tolerant = <M extends { requestDeserialize(bytes: Buffer): unknown }>(method: M): M => ({
    ...method,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return method.requestDeserialize(bytes);
      } catch {
        return MALFORMED;
      }
    },
  });
  return { ...definition, check: tolerant(definition.check), watch: tolerant(definition.watch), list: tolerant(definition.list) };
}
