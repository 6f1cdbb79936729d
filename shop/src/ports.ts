/**
 * The shop's fixed ports besides its services' own (each service's module
 * declares its gRPC and admin ports): the gateway's and the console's HTTP, NATS and the
 * PostgreSQL cluster of `make up`. Containers and Kubernetes use the same numbers.
 */
export const GATEWAY_HTTP_PORT = 8080;
/** The development console (services/console): the shop, the mesh map, faults. Never in production. */
export const CONSOLE_HTTP_PORT = 8090;
export const NATS_PORT = 4222;
export const NATS_MONITOR_PORT = 8222;
/** The embedded PostgreSQL cluster of `make up` (POSTGRES_PORT moves it). */
export const POSTGRES_PORT = 5432;
