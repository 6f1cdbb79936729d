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
 * Then the same message to the echo process on the other core one at a time
 * with a pause between messages, as a service's process sleeps between calls
 * at a modest rate: the echo end's CPU per message, which does the same work
 * each time, against back to back. Waking a process that slept costs more
 * than serving one that was busy, and that, not the work, is much of the
 * mesh's CPU per order at low rates (section 2).
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/ipc.ts <out.json>
 * Env: BENCH_IPC_ROUND_TRIPS (20000), BENCH_IPC_ROUNDS (3), BENCH_IPC_SPACED_SECONDS (2: per pause and round)
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { listenEcho } from "./lib/echo.js";
import { cpuSeconds, freePort, preciseCpuSeconds, ROOT, startProcess, stopProcess, TSX_ARGS } from "./lib/process.js";
import { median, round } from "./lib/stats.js";

const ROUND_TRIPS = Number(process.env.BENCH_IPC_ROUND_TRIPS) || 20_000;
const ROUNDS = Number(process.env.BENCH_IPC_ROUNDS) || 3;
const MESSAGE_BYTES = 200;
const CLIENT_CORE = 1;
/** Pauses between spaced messages (0: back to back, the baseline): a process called 500, 100 and 20 times a second. */
const PAUSES_MS = [0, 2, 10, 50];
const SPACED_SECONDS = Number(process.env.BENCH_IPC_SPACED_SECONDS) || 2;

interface RoundTrips {
  wallUs: number;
  cpuUs: number;
}

function connectTo(port: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const connected = connect(port, "127.0.0.1", () => {
      connected.setNoDelay(true);
      resolve(connected);
    }).once("error", reject);
  });
}

/** ROUND_TRIPS messages to `port` and back, one in flight; `otherCpu` reads the far end's CPU seconds. */
async function pingPong(port: number, otherCpu: () => number): Promise<RoundTrips> {
  const socket = await connectTo(port);
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

/** One message to the echo process and back, `pauseMs` apart for about SPACED_SECONDS: the echo end's CPU per message (µs). */
async function spaced(port: number, pid: number, pauseMs: number): Promise<number> {
  const socket = await connectTo(port);
  const message = Buffer.alloc(MESSAGE_BYTES, 1);
  const count = pauseMs === 0 ? ROUND_TRIPS : Math.round((SPACED_SECONDS * 1000) / pauseMs);
  const echoed = () =>
    new Promise<void>((resolve) => {
      let received = 0;
      const onData = (chunk: Buffer) => {
        received += chunk.length;
        if (received < MESSAGE_BYTES) return;
        socket.off("data", onData);
        resolve();
      };
      socket.on("data", onData);
      socket.write(message);
    });
  const before = preciseCpuSeconds(pid);
  for (let sent = 0; sent < count; sent++) {
    await echoed();
    if (pauseMs > 0) await sleep(pauseMs);
  }
  const used = preciseCpuSeconds(pid) - before;
  socket.destroy();
  return (used * 1e6) / count;
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
const farEnd = echoes[1]!;
const spacedUs: number[][] = PAUSES_MS.map(() => []);
try {
  for (const entry of Object.values(cases)) await pingPong(entry.port, entry.otherCpu); // warm-up
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    for (const [key, entry] of Object.entries(cases)) {
      const result = await pingPong(entry.port, entry.otherCpu);
      measured[key]!.push(result);
      console.error(`ipc round ${round_ + 1}/${ROUNDS} ${key}: ${round(result.wallUs, 1)} µs wall, ${round(result.cpuUs, 1)} µs CPU per round trip`);
    }
    for (const [index, pauseMs] of PAUSES_MS.entries()) {
      spacedUs[index]!.push(await spaced(farEnd.port, farEnd.started.pid, pauseMs));
      console.error(`ipc round ${round_ + 1}/${ROUNDS} every ${pauseMs} ms: echo end ${round(spacedUs[index]!.at(-1)!, 1)} µs CPU per message`);
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
const backToBack = median(spacedUs[0]!);
const paused = PAUSES_MS.map((pauseMs, index) => {
  const echoCpuUs = median(spacedUs[index]!);
  return { pauseMs, echoCpuUs: round(echoCpuUs, 1), timesBackToBack: round(echoCpuUs / backToBack, 1) };
});
writeFileSync(process.argv[2]!, `${JSON.stringify({ messageBytes: MESSAGE_BYTES, roundTrips: ROUND_TRIPS, rounds: ROUNDS, cases: summary, paused }, null, 2)}\n`);
