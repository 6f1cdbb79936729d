import { type Queryable } from "@bazaar/runtime/db/database";
import { events } from "@bazaar/shop/events";
import { type Outbox } from "@bazaar/runtime/events/outbox";
import { on } from "@bazaar/runtime/events/consumer";
import { refundPayment } from "./refund.js";
import { markGivenUp, paymentsOfOrderForUpdate } from "./store.js";

/**
 * What payments consumes: a cancelled order gets its money back, and so does a
 * rejected one whose charge went through after orders stopped waiting. The refund,
 * its PaymentRefunded outbox row and the inbox row commit together, so a
 * redelivered event refunds once.
 */
export const paymentEventHandlers = [
  on(events.orderCancelled, (event, { tx, outbox }) => giveBack(tx, outbox, event.orderId, event.reason || "order cancelled")),
  on(events.orderRejected, (event, { tx, outbox }) => giveBack(tx, outbox, event.orderId, `order rejected: ${event.reason}`)),
];

/**
 * Remember that the order was given up and refund what was captured for it. The
 * order's fate row (markGivenUp locks it) orders this against any settle of a charge for it:
 * a capture that settled first is refunded here; one that settles after finds
 * the order given up and refunds at once (charge.ts); a charge not yet begun is
 * refused. So no capture outlives its order, whatever orders' own compensation
 * calls did. A declined or refunded payment needs nothing.
 */
async function giveBack(tx: Queryable, outbox: Outbox, orderId: string, reason: string): Promise<void> {
  await markGivenUp(tx, orderId, reason);
  for (const payment of await paymentsOfOrderForUpdate(tx, orderId)) {
    if (payment.status === "CAPTURED") await refundPayment(tx, outbox, payment.id, reason);
  }
}
