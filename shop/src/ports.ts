/**
 * The mesh's port map, in one place: service defaults, the local runner
 * (`make up`) and tests all read it. Containers and Kubernetes use the same numbers.
 */
export const PORTS = {
  catalog: { grpc: 50051, admin: 9051 },
  inventory: { grpc: 50052, admin: 9052 },
  orders: { grpc: 50053, admin: 9053 },
  payments: { grpc: 50054, admin: 9054 },
  notifications: { grpc: 50055, admin: 9055 },
} as const;

export type ServiceName = keyof typeof PORTS;

export const GATEWAY_HTTP_PORT = 8080;
export const NATS_PORT = 4222;
export const NATS_MONITOR_PORT = 8222;
/** The embedded PostgreSQL cluster of `make up` (POSTGRES_PORT moves it). */
export const POSTGRES_PORT = 5432;
