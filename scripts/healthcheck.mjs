/**
 * The container image's HEALTHCHECK (see Dockerfile): exit 0 when this container's
 * service is ready for traffic, 1 when it is not, 2 when it cannot tell which
 * service it is.
 *
 * gRPC services are asked grpc.health.v1.Health/Check with service "" (the whole
 * server): SERVING only once the database is migrated, NOT_SERVING again while
 * draining. The gateway serves HTTP only, so it is asked GET /readyz.
 * The probe dials 127.0.0.1 on the port of GRPC_ADDR or HTTP_ADDR: the container
 * binds 0.0.0.0, and the probe runs inside it.
 *
 * Plain JavaScript on the built packages (@bazaar/gen, @bazaar/runtime dist/):
 * the image has no TypeScript at run time.
 */
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthService } from "@bazaar/gen/grpc/health/v1/health";
import { createClient } from "@bazaar/runtime/grpc/client";
import { GATEWAY_HTTP_PORT, PORTS } from "@bazaar/runtime/ports";

const TIMEOUT_MS = 2000;
const service = process.env.SERVICE ?? "";

/** The port of a "host:port" variable, or `fallback` when it is unset. */
function portOf(address, fallback) {
  if (address === undefined || address === "") return fallback;
  const port = /:(\d{1,5})$/.exec(address)?.[1];
  if (port === undefined) throw new Error(`not a host:port address: ${address}`);
  return Number(port);
}

async function grpcReady(port) {
  const client = createClient(HealthService, `127.0.0.1:${port}`, { deadlineMs: TIMEOUT_MS });
  try {
    const { status } = await client.check({ service: "" });
    return { ready: status === ServingStatus.SERVING, detail: ServingStatus[status] ?? String(status) };
  } finally {
    client.close();
  }
}

async function httpReady(port) {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  return { ready: response.status === 200, detail: `/readyz answered ${response.status}` };
}

async function check() {
  if (service === "gateway") return httpReady(portOf(process.env.HTTP_ADDR, GATEWAY_HTTP_PORT));
  if (Object.hasOwn(PORTS, service)) return grpcReady(portOf(process.env.GRPC_ADDR, PORTS[service].grpc));
  console.error(`healthcheck: SERVICE must be gateway or one of ${Object.keys(PORTS).join(", ")} (got "${service}")`);
  process.exit(2);
}

try {
  const { ready, detail } = await check();
  console.log(`${service}: ${detail}`);
  // Exit explicitly: a closing gRPC channel must not keep the probe alive.
  process.exit(ready ? 0 : 1);
} catch (error) {
  console.log(`${service}: unreachable (${error instanceof Error ? error.message : String(error)})`);
  process.exit(1);
}
