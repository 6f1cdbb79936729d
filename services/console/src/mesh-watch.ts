import { connect } from "node:net";
import { type Logger } from "@bazaar/runtime/logger";
import { type Health, meshSnapshot, type MeshSnapshot, type ProcessScrape, type ScrapeRound } from "./mesh-snapshot.js";
import { parsePrometheusText } from "./prometheus-text.js";

/** Once a second, whoever is watching: one poll of the mesh shared by every open page. */
const POLL_MS = 1000;
/** Rates are over the last few seconds: steadier than one second's, still live. */
const WINDOW_ROUNDS = 5;
const TIMEOUT_MS = 800;

export interface WatchTargets {
  /** Each process's admin address (host:port), serving /readyz and /metrics. */
  admin: Record<string, string>;
  natsMonitorUrl: string;
  databaseAddr?: string;
}

/**
 * Polls the mesh while anyone watches (`watching()` says so) and hands each
 * new map to `publish`. The rounds of the last few seconds are kept to compute
 * rates; nothing else is stored.
 */
export function watchMesh(targets: WatchTargets, watching: () => boolean, publish: (snapshot: MeshSnapshot) => void, logger: Logger): { latest(): MeshSnapshot | undefined; stop(): void } {
  const rounds: ScrapeRound[] = [];
  let latest: MeshSnapshot | undefined;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || !watching()) return;
    busy = true;
    scrapeRound(targets)
      .then((round) => {
        rounds.push(round);
        if (rounds.length > WINDOW_ROUNDS + 1) rounds.shift();
        latest = meshSnapshot(round, rounds.length > 1 ? rounds[0] : undefined);
        publish(latest);
      })
      .catch((error: unknown) => logger.warn({ err: error }, "could not poll the mesh"))
      .finally(() => {
        busy = false;
      });
  }, POLL_MS);
  return { latest: () => latest, stop: () => clearInterval(timer) };
}

async function scrapeRound(targets: WatchTargets): Promise<ScrapeRound> {
  const at = Date.now();
  const names = Object.keys(targets.admin);
  const [scrapes, nats, database] = await Promise.all([
    Promise.all(names.map((name) => scrapeProcess(targets.admin[name]!))),
    httpHealth(`${targets.natsMonitorUrl}/healthz`),
    targets.databaseAddr === undefined ? undefined : tcpHealth(targets.databaseAddr),
  ]);
  return { at, processes: Object.fromEntries(names.map((name, i) => [name, scrapes[i]!])), nats, ...(database ? { database } : {}) };
}

async function scrapeProcess(address: string): Promise<ProcessScrape> {
  const [health, metrics] = await Promise.all([
    httpHealth(`http://${address}/readyz`),
    fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(TIMEOUT_MS) })
      .then(async (response) => (response.ok ? parsePrometheusText(await response.text()) : undefined))
      .catch(() => undefined),
  ]);
  return { health, ...(metrics ? { samples: metrics } : {}) };
}

/** 200: SERVING; another answer (503 while starting or draining): NOT_SERVING; no answer: unreachable. */
async function httpHealth(url: string): Promise<Health> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok ? "SERVING" : "NOT_SERVING";
  } catch {
    return "unreachable";
  }
}

/** The database's node: does its port accept a connection (the console has no login of its own)? */
function tcpHealth(address: string): Promise<Health> {
  const at = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)), timeout: TIMEOUT_MS });
    const done = (health: Health) => {
      socket.destroy();
      resolve(health);
    };
    socket.once("connect", () => done("SERVING")).once("timeout", () => done("unreachable")).once("error", () => done("unreachable"));
  });
}
