/**
 * The container image's HEALTHCHECK (see Dockerfile): exit 0 when this container's
 * service is ready for traffic, 1 when it is not, 2 when it cannot tell which
 * service it is.
 *
 * It asks GET /readyz over plain HTTP. A gRPC service's gRPC port accepts only
 * mutual TLS with a certificate of the mesh, which a probe should not hold, so it
 * is asked on its admin port (ADMIN_ADDR): /readyz answers 200 only while gRPC
 * health says SERVING (once the database is migrated, not while draining). The
 * gateway and the development console are asked on their HTTP port (HTTP_ADDR). The probe dials 127.0.0.1 on that
 * port: the container binds 0.0.0.0, and the probe runs inside it.
 *
 * Plain JavaScript on the built packages (@bazaar/runtime dist/): the image has no
 * TypeScript at run time.
 */
import { existsSync } from "node:fs";
import { CONSOLE_HTTP_PORT, GATEWAY_HTTP_PORT } from "@bazaar/shop/ports";

const TIMEOUT_MS = 2000;
const service = process.env.SERVICE ?? "";

/** The port of a "host:port" variable, or `fallback` when it is unset. */
function portOf(address, fallback) {
  if (address === undefined || address === "") return fallback;
  const port = /:(\d{1,5})$/.exec(address)?.[1];
  if (port === undefined) throw new Error(`not a host:port address: ${address}`);
  return Number(port);
}

async function askReadyz(port) {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  // The body says why (e.g. {"status":"NOT_SERVING"}); bounded, as it ends up in `docker inspect`.
  const body = (await response.text()).slice(0, 200);
  return { ready: response.status === 200, detail: `/readyz answered ${response.status} ${body}` };
}

/** An error's message, with its cause's (fetch says only "fetch failed"; the cause says ECONNREFUSED). */
function describe(error) {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

/** The service's folder (services/<name>, in the image as in the repository). */
const folder = new URL(`../services/${service}/`, import.meta.url);
if (!/^[a-z][a-z0-9-]*$/.test(service) || !existsSync(new URL("package.json", folder))) {
  console.error(`healthcheck: SERVICE must name a service of this image, e.g. catalog or gateway (got "${service}")`);
  process.exit(2);
}

/** A service's admin port when ADMIN_ADDR is unset: the one its module declares (dist/module.js exports it under its name). */
async function declaredAdminPort() {
  const module = await import(new URL("dist/module.js", folder).href);
  return module[service].ports.admin;
}

try {
  const httpPort = { gateway: GATEWAY_HTTP_PORT, console: CONSOLE_HTTP_PORT }[service];
  const port = httpPort !== undefined ? portOf(process.env.HTTP_ADDR, httpPort) : portOf(process.env.ADMIN_ADDR, undefined) ?? (await declaredAdminPort());
  const { ready, detail } = await askReadyz(port);
  console.log(`${service}: ${detail}`);
  process.exit(ready ? 0 : 1);
} catch (error) {
  console.log(`${service}: unreachable (${describe(error)})`);
  process.exit(1);
}
