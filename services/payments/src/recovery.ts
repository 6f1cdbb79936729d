import { type Logger } from "@bazaar/runtime/logger";
import { type PeriodicJob, startPeriodic } from "@bazaar/runtime/periodic";
import { type ChargeDeps, resolveUnanswered } from "./charge.js";
import { pendingPastLease, reclaimExpiredPending } from "./store.js";

/**
 * Charges whose process died between asking the provider and settling (kill -9,
 * a lost node) stay PENDING: the provider may have taken the money, and nobody
 * would record it, refund it, or free the key. A PENDING row older than the lease
 * is such a charge. Recovery takes it over (the lease starts again, so another
 * replica leaves it alone), asks the provider what became of it and settles it
 * as charge.ts would have: captured (refunded at once if its order was given up
 * meanwhile), declined, or deleted after the provider voided it.
 */
export async function resolveAbandonedCharges(deps: Omit<ChargeDeps, "logger">): Promise<Array<{ paymentId: string; status: string }>> {
  const resolved: Array<{ paymentId: string; status: string }> = [];
  for (const paymentId of await pendingPastLease(deps.db, deps.pendingLeaseMs)) {
    const ours = await reclaimExpiredPending(deps.db, paymentId, deps.pendingLeaseMs);
    if (!ours) continue; // settled meanwhile, or taken over by a retry or another replica
    const payment = await resolveUnanswered(deps, ours);
    resolved.push({ paymentId, status: payment?.status ?? "VOIDED" });
  }
  return resolved;
}

/** Resolve abandoned charges at start and then every `intervalMs`. */
export function startChargeRecovery(deps: ChargeDeps & { logger: Logger }, intervalMs: number): PeriodicJob {
  return startPeriodic("abandoned charge recovery", intervalMs, deps.logger, async () => {
    const resolved = await resolveAbandonedCharges(deps);
    if (resolved.length > 0) deps.logger.warn({ payments: resolved }, "resolved charges left PENDING by an interrupted process");
  });
}
