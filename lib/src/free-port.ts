import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Where random ports are drawn from: above the well-known and registered ports most daemons take. */
const LOWEST = 10_000;

/** Ports this process handed out: never handed out twice, so a mesh's processes never share one. */
const handedOut = new Set<number>();

/**
 * A port of 127.0.0.1 that is free now, for a process that must be told its
 * port before it starts (the tests' and benchmarks' meshes, where every
 * service is given the others' addresses and all start at once). It is drawn
 * below the kernel's ephemeral range (Linux's net.ipv4.ip_local_port_range),
 * where the kernel never puts the local end of an outgoing connection: a port
 * the kernel picks (listening on port 0) lies in that range, and between being
 * picked and being bound it could become the local port of one of the mesh's
 * own connections to PostgreSQL or NATS (a service then failed to start with
 * EADDRINUSE).
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  ceiling ??= ephemeralFloor();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (ceiling - LOWEST));
    if (handedOut.has(port)) continue;
    // Claimed before the check, so calls made together never draw the same port.
    handedOut.add(port);
    if (await bindable(port, host)) return port;
    handedOut.delete(port);
  }
  throw new Error(`no free port of ${host} between ${LOWEST} and ${ceiling} after 200 tries`);
}

/** Read once: the range does not change under a running test. */
let ceiling: number | undefined;

/** The lowest port of the kernel's ephemeral range (49152, the IANA dynamic range, where /proc does not say). */
function ephemeralFloor(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low !== undefined && low > LOWEST + 1000) return low;
  } catch {
    // not Linux
  }
  return 49_152;
}

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
