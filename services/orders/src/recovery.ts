import { type Database } from "@bazaar/runtime/db/database";
import { events } from "@bazaar/shop/events";
import { type Outbox } from "@bazaar/runtime/events/outbox";
import { type Logger } from "@bazaar/runtime/logger";
import { type PeriodicJob, startPeriodic } from "@bazaar/runtime/periodic";
import { rejectOrder } from "./store.js";

/**
 * Orders whose saga died with its process (killed between taking the key and
 * recording the outcome) stay PENDING: their key answers ABORTED forever and
 * their stock stays held. An order PENDING for longer than any saga can run is
 * such an order. It is rejected with OrderRejected, on which inventory releases
 * its stock and payments refunds a charge that went through.
 */
export const STALLED_REASON = "the order was interrupted before it completed; nothing is held or charged";

export async function rejectStalledOrders(deps: { db: Database; outbox: Outbox }, olderThanMs: number): Promise<string[]> {
  const stalled = await deps.db.query<{ id: string }>(
    "select id from orders where status = 'PENDING' and created_at < now() - $1 * interval '1 millisecond' order by created_at limit 100",
    [olderThanMs],
  );
  const rejected: string[] = [];
  for (const { id } of stalled) {
    await deps.db.transaction(async (tx) => {
      const updated = await rejectOrder(tx, id, STALLED_REASON, "unavailable");
      if (!updated) return; // its saga finished meanwhile
      await deps.outbox.add(tx, events.orderRejected, {
        orderId: id,
        customerId: updated.customerId,
        reason: STALLED_REASON,
        occurredAt: updated.updatedAt,
      });
      rejected.push(id);
    });
  }
  return rejected;
}

/**
 * Sweep at start and then every `intervalMs`. A saga runs at most its budget
 * plus two short compensation calls, so `sagaBudgetMs` sets how old is stalled.
 */
export function startStalledOrderSweeper(
  deps: { db: Database; outbox: Outbox; logger: Logger },
  options: { sagaBudgetMs: number; intervalMs?: number },
): PeriodicJob {
  const olderThanMs = Math.max(2 * options.sagaBudgetMs, options.sagaBudgetMs + 10_000);
  return startPeriodic("stalled order sweep", options.intervalMs ?? 30_000, deps.logger, async () => {
    const ids = await rejectStalledOrders(deps, olderThanMs);
    if (ids.length > 0) deps.logger.warn({ order_ids: ids }, "rejected orders left PENDING by an interrupted saga");
  });
}
