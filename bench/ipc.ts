/**
 * Measurement 0, the machine: what one message between two processes costs.
 * Every figure of the mesh is made of such messages (a gRPC call, an SQL
 * statement, a NATS publish and its ack), so this is their unit price here.
 * A 200-byte message goes back and forth over loopback TCP (Nagle off, one at
 * a time), between two ends in this one process, then between this process
 * and an echo server process on the same core, then on the other core. Per
 * round trip: wall time, and the CPU time of both ends (this process's own
 * counters plus the echo process's from /proc).
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/ipc.ts <out.json>
 * Env: BENCH_IPC_ROUND_TRIPS (20000), BENCH_IPC_ROUNDS (3)
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listenEcho } from "./lib/echo.js";
import { cpuSeconds, freePort, ROOT, startProcess, stopProcess, TSX_ARGS } from "./lib/process.js";
import { median, round } from "./lib/stats.js";

const ROUND_TRIPS = Number(process.env.BENCH_IPC_ROUND_TRIPS) || 20_000;
const ROUNDS = Number(process.env.BENCH_IPC_ROUNDS) || 3;
const MESSAGE_BYTES = 200;
const CLIENT_CORE = 1;

interface RoundTrips {
  wallUs: number;
  cpuUs: number;
}

/** ROUND_TRIPS messages to `port` and back, one in flight; `otherCpu` reads the far end's CPU seconds. */
async function pingPong(port: number, otherCpu: () => number): Promise<RoundTrips> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const connected = connect(port, "127.0.0.1", () => resolve(connected)).once("error", reject);
  });
  socket.setNoDelay(true);
  const message = Buffer.alloc(MESSAGE_BYTES, 1);
  const started = performance.now();
  const ownBefore = process.cpuUsage();
  const otherBefore = otherCpu();
  await new Promise<void>((resolve) => {
    let received = 0;
    let left = ROUND_TRIPS;
    socket.on("data", (chunk) => {
      received += chunk.length;
      if (received < MESSAGE_BYTES) return;
      received -= MESSAGE_BYTES;
      if (--left === 0) resolve();
      else socket.write(message);
    });
    socket.write(message);
  });
  const own = process.cpuUsage(ownBefore);
  const other = otherCpu() - otherBefore;
  const wallUs = ((performance.now() - started) * 1000) / ROUND_TRIPS;
  socket.destroy();
  return { wallUs, cpuUs: ((own.user + own.system) / 1e6 + other) * (1e6 / ROUND_TRIPS) };
}

// This process's main thread (the one doing the I/O) stays on one core throughout.
execFileSync("taskset", ["-pc", String(CLIENT_CORE), String(process.pid)], { stdio: "ignore" });

const { server: inProcessServer, port: inProcessPort } = await listenEcho(0);

const echoes = await Promise.all(
  [CLIENT_CORE, 1 - CLIENT_CORE].map(async (core) => {
    const port = await freePort();
    const started = startProcess(`echo@${core}`, process.execPath, [...TSX_ARGS, join(ROOT, "bench", "ipc-echo.ts"), String(port)], {}, join(tmpdir(), `bazaar-ipc-echo-${port}.log`), core);
    return { core, port, started };
  }),
);
await new Promise((resolve) => setTimeout(resolve, 2000)); // the echo processes load tsx and listen

const cases = {
  inProcess: { label: "both ends in one process", port: inProcessPort, otherCpu: () => 0 },
  sameCore: { label: "two processes, same core", port: echoes[0]!.port, otherCpu: () => cpuSeconds(echoes[0]!.started.pid) },
  otherCore: { label: "two processes, different cores", port: echoes[1]!.port, otherCpu: () => cpuSeconds(echoes[1]!.started.pid) },
};
const measured: Record<string, RoundTrips[]> = Object.fromEntries(Object.keys(cases).map((key) => [key, []]));
try {
  for (const entry of Object.values(cases)) await pingPong(entry.port, entry.otherCpu); // warm-up
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    for (const [key, entry] of Object.entries(cases)) {
      const result = await pingPong(entry.port, entry.otherCpu);
      measured[key]!.push(result);
      console.error(`ipc round ${round_ + 1}/${ROUNDS} ${key}: ${round(result.wallUs, 1)} µs wall, ${round(result.cpuUs, 1)} µs CPU per round trip`);
    }
  }
} finally {
  inProcessServer.close();
  await Promise.all(echoes.map((echo) => stopProcess(echo.started)));
}

const summary = Object.fromEntries(
  Object.entries(cases).map(([key, entry]) => [
    key,
    {
      label: entry.label,
      wallUs: round(median(measured[key]!.map((run) => run.wallUs)), 1),
      cpuUs: round(median(measured[key]!.map((run) => run.cpuUs)), 1),
    },
  ]),
);
writeFileSync(process.argv[2]!, `${JSON.stringify({ messageBytes: MESSAGE_BYTES, roundTrips: ROUND_TRIPS, rounds: ROUNDS, cases: summary }, null, 2)}\n`);
