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
  private readonly watchers = new Map<string, Set<grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>>();

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
    this.watchers.clear();
  }

  addTo(server: grpc.Server): void {
    const implementation: HealthServer = {
      check: (call, callback) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) {
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service: ${call.request.service}` });
        } else {
          callback(null, { status });
        }
      },
      watch: (call) => {
        const service = call.request.service;
        const streams = this.watchers.get(service) ?? new Set();
        this.watchers.set(service, streams);
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
    server.addService(HealthService, implementation);
  }
}
