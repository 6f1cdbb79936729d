/**
 * h2load's job in Node, for the servers h2load cannot load: it has no option to
 * present a client certificate (nghttp2 1.52 `h2load --help`), and the mesh's
 * servers refuse a TLS client without one. Same shape of load as bench/lib/h2load.ts
 * gives h2load: one HTTP/2 connection, `inFlight` calls of one prepared gRPC body
 * always outstanding (closed loop: an answer starts the next call), a warm-up,
 * then a measured window. node:http2, not a grpc-js client: the generator should
 * cost as little per call as Node allows. A call succeeds when grpc-status is 0
 * (h2load only sees HTTP 200, which gRPC errors also carry).
 *
 * One process serves a whole series (Node's start-up is not paid per run): each
 * line on stdin is a NodeLoadPlan, run on a new connection, answered by one JSON
 * line (H2loadResult) on stdout; it exits when stdin ends.
 *
 * Usage: node --import tsx bench/h2load-node-worker.ts   (bench/lib/h2load.ts startNodeH2load starts it)
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { type TLSSocket } from "node:tls";
import { connectH2, grpcUnary } from "./lib/h2-grpc.js";
import type { H2loadResult, NodeLoadPlan } from "./lib/h2load.js";
import { cpuSeconds } from "./lib/process.js";
import { quantile, round } from "./lib/stats.js";

async function load(plan: NodeLoadPlan): Promise<H2loadResult> {
  const url = new URL(plan.url);
  const body = readFileSync(plan.bodyFile);
  const session = await connectH2(url.origin, plan.tls);
  /** One unary call: true when the server answered with grpc-status 0. */
  const call = async () => (await grpcUnary(session, url.pathname, body)) === 0;

  /** CPU-seconds used so far by this process and by the server, and when. */
  const cpuNow = () => {
    const own = process.cpuUsage();
    return { at: performance.now(), own: (own.user + own.system) / 1e6, server: cpuSeconds(plan.serverPid) };
  };
  const at = (ms: number) => new Promise<ReturnType<typeof cpuNow>>((resolve) => setTimeout(() => resolve(cpuNow()), ms));
  const windowCpu = Promise.all([at(plan.warmUpSeconds * 1000), at((plan.warmUpSeconds + plan.seconds) * 1000)]);
  const warmUpEnds = performance.now() + plan.warmUpSeconds * 1000;
  const ends = warmUpEnds + plan.seconds * 1000;
  const latenciesUs: number[] = [];
  let failed = 0;
  /** One of the `inFlight` lanes; a call counts when it is answered inside the measured window. */
  const lane = async () => {
    while (performance.now() < ends) {
      const began = performance.now();
      const ok = await call();
      const answered = performance.now();
      if (answered < warmUpEnds || answered > ends) continue;
      if (ok) latenciesUs.push(Math.round((answered - began) * 1000));
      else failed += 1;
    }
  };
  await Promise.all(Array.from({ length: plan.inFlight }, lane));
  // CPU-seconds per second over the measured window (1 = a whole core): which side was the limit.
  const [from, to] = await windowCpu;
  const perSecond = (used: number) => round(used / ((to.at - from.at) / 1000), 2);
  const socket = session.socket as TLSSocket;
  const tls = plan.tls ? `${socket.getProtocol?.() ?? "?"} ${socket.getCipher?.()?.name ?? "?"}` : undefined;
  await new Promise<void>((resolve) => session.close(resolve));
  return {
    requestsPerSecond: latenciesUs.length / plan.seconds,
    succeeded: latenciesUs.length,
    failed,
    p50Us: quantile(latenciesUs, 0.5),
    p99Us: quantile(latenciesUs, 0.99),
    tls,
    serverCpu: perSecond(to.server - from.server),
    generatorCpu: perSecond(to.own - from.own),
  };
}

for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(`${JSON.stringify(await load(JSON.parse(line) as NodeLoadPlan))}\n`);
}
