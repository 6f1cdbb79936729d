import { IDLE_SETTLE_MAX_MS, IDLE_SETTLE_MS } from "./idle.js";
import type { BenchMesh } from "./mesh.js";

/** Each process's count of idle collections (bazaar_idle_collections_total), from its /metrics. */
export async function idleCollectionCounts(metricsUrls: readonly string[]): Promise<number[]> {
  return Promise.all(
    metricsUrls.map(async (url) => {
      const text = await (await fetch(url)).text();
      const line = text.split("\n").find((row) => row.startsWith("bazaar_idle_collections_total "));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
    }),
  );
}

/**
 * Wait until every process has given back what start-up or a load grew: until
 * each has run an idle collection since `before` (its counts then; zeros for a
 * mesh just started), at least IDLE_SETTLE_MS and at most IDLE_SETTLE_MAX_MS.
 * When a collection runs depends on where the process's check interval falls
 * (collectWhenIdle): a fixed delay read some processes before theirs and some
 * after. Answers how long it waited, and whether every process had collected.
 */
export async function settleIdle(metricsUrls: readonly string[], before: readonly number[]): Promise<{ waitedMs: number; allCollected: boolean }> {
  const began = performance.now();
  const waited = () => performance.now() - began;
  await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
  for (;;) {
    const counts = await idleCollectionCounts(metricsUrls);
    const allCollected = counts.every((count, index) => count > (before[index] ?? 0));
    if (allCollected || waited() >= IDLE_SETTLE_MAX_MS) return { waitedMs: Math.round(waited()), allCollected };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Where each of a mesh's Node processes (the services and the gateway) serves its metrics. */
export const metricsUrlsOf = (mesh: Pick<BenchMesh, "admin" | "gatewayUrl">): string[] => [
  ...Object.values(mesh.admin).map((address) => `http://${address}/metrics`),
  `${mesh.gatewayUrl}/metrics`,
];
