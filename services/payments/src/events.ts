import { type Queryable } from "@bazaar/runtime/db/database";
import { events } from "@bazaar/runtime/events/catalog";
import { type Outbox } from "@bazaar/runtime/events/outbox";
import { on } from "@bazaar/runtime/events/consumer";
import { type ServiceDeps } from "@bazaar/runtime/service";
import { refundPayment } from "./refund.js";
import { findPaymentOfOrder, markRefundDue } from "./store.js";

/**
 * What payments consumes: a cancelled order gets its money back, and so does a
 * rejected one whose charge went through after orders stopped waiting. The refund,
 * its PaymentRefunded outbox row and the inbox row commit together, so a
 * redelivered event refunds once.
 */
export const paymentEventHandlers = ({ outbox }: ServiceDeps) => [
  on(events.orderCancelled, (event, { tx }) => giveBack(tx, outbox, event.orderId, event.reason || "order cancelled")),
  on(events.orderRejected, (event, { tx }) => giveBack(tx, outbox, event.orderId, `order rejected: ${event.reason}`)),
];

/**
 * The order's payment, locked: a settle in flight waits for this transaction, or
 * this one for the settle. CAPTURED is refunded now. PENDING (the provider may
 * have answered, the settle not yet committed) is marked: its settle refunds a
 * capture at once, so the refund is never lost between the two. DECLINED,
 * REFUNDED or none: nothing was taken.
 */
async function giveBack(tx: Queryable, outbox: Outbox, orderId: string, reason: string): Promise<void> {
  const payment = await findPaymentOfOrder(tx, orderId, { forUpdate: true });
  if (payment?.status === "CAPTURED") await refundPayment(tx, outbox, payment.id, reason);
  else if (payment?.status === "PENDING") await markRefundDue(tx, payment.id, reason);
}
