import { IDLE_SETTLE_AFTER_LOAD_MAX_MS, IDLE_SETTLE_MAX_MS, IDLE_SETTLE_MS } from "./idle.js";
import type { BenchMesh } from "./mesh.js";
import { counterSum } from "./tally.js";

/** Each process's count of idle collections (bazaar_idle_collections_total), from its /metrics. */
export async function idleCollectionCounts(metricsUrls: readonly string[]): Promise<number[]> {
  return Promise.all(
    metricsUrls.map(async (url) => counterSum(await (await fetch(url)).text(), "bazaar_idle_collections_total")),
  );
}

/**
 * Wait until every process has given back what start-up or a load grew: until
 * each has run an idle collection since `before` (its counts then; none for a
 * mesh just started), at least IDLE_SETTLE_MS and at most IDLE_SETTLE_MAX_MS
 * (IDLE_SETTLE_AFTER_LOAD_MAX_MS after a load, given `before`).
 * When a collection runs depends on where the process's check interval falls
 * (collectWhenIdle): a fixed delay read some processes before theirs and some
 * after.
 */
export async function settleIdle(metricsUrls: readonly string[], before: readonly number[] = []): Promise<void> {
  const deadline = performance.now() + (before.length > 0 ? IDLE_SETTLE_AFTER_LOAD_MAX_MS : IDLE_SETTLE_MAX_MS);
  await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
  for (;;) {
    const counts = await idleCollectionCounts(metricsUrls);
    if (counts.every((count, index) => count > (before[index] ?? 0)) || performance.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Where each of a mesh's Node processes (the services and the gateway) serves its metrics: a bench mesh's, or `make up`'s ports. */
export const metricsUrlsOf = (mesh: Pick<BenchMesh, "gatewayUrl"> & { admin: Record<string, string> }): string[] => [
  ...Object.values(mesh.admin).map((address) => `http://${address}/metrics`),
  `${mesh.gatewayUrl}/metrics`,
];
