import { type Queryable } from "@bazaar/runtime/db/database";
import { events } from "@bazaar/shop/events";
import { type Outbox } from "@bazaar/runtime/events/outbox";
import { notFound } from "@bazaar/runtime/errors";
import { type Payment, refundAction } from "./domain.js";
import { getPaymentForUpdate, markRefunded } from "./store.js";

/**
 * Give a captured payment back, once. Runs in the caller's transaction `tx`, so
 * the Refund handler and the OrderCancelled consumer share it and can commit
 * their own rows (outbox, inbox) with it. The row lock makes two concurrent
 * refunds of one payment refund it once: the second waits, then finds REFUNDED.
 *
 * Throws NOT_FOUND (unknown id), FAILED_PRECONDITION (declined: nothing was
 * taken) or ABORTED (its charge is still in progress: retry).
 *
 * The simulated provider keeps no balances, so the refund is only recorded
 * here. A real provider's refund would be requested first, keyed by the
 * payment id so a repeated request gives the money back once.
 */
export async function refundPayment(tx: Queryable, outbox: Outbox, paymentId: string, reason: string): Promise<Payment> {
  const payment = await getPaymentForUpdate(tx, paymentId);
  if (!payment) throw notFound(`payment ${paymentId} not found`);
  if (refundAction(payment) === "already-refunded") return payment;
  const refunded = await markRefunded(tx, paymentId, reason);
  await outbox.add(tx, events.paymentRefunded, {
    paymentId: refunded.id,
    orderId: refunded.orderId,
    customerId: refunded.customerId,
    amount: refunded.amount,
    reason: refunded.refundReason,
    occurredAt: refunded.updatedAt,
  });
  return refunded;
}
