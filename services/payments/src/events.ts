import { events } from "@bazaar/runtime/events/catalog";
import { on } from "@bazaar/runtime/events/consumer";
import { type ServiceDeps } from "@bazaar/runtime/service";
import { refundPayment } from "./refund.js";
import { findPaymentOfOrder } from "./store.js";

/**
 * What payments consumes: a cancelled order gets its money back, and so does a
 * rejected one whose charge went through after orders stopped waiting. The refund,
 * its PaymentRefunded outbox row and the inbox row commit together, so a
 * redelivered OrderCancelled refunds once. An order with no captured payment
 * has nothing to refund.
 */
export const paymentEventHandlers = ({ outbox }: ServiceDeps) => [
  on(events.orderCancelled, async (event, { tx }) => {
    const payment = await findPaymentOfOrder(tx, event.orderId);
    if (payment?.status !== "CAPTURED") return;
    await refundPayment(tx, outbox, payment.id, event.reason || "order cancelled");
  }),
  on(events.orderRejected, async (event, { tx }) => {
    const payment = await findPaymentOfOrder(tx, event.orderId);
    if (payment?.status !== "CAPTURED") return;
    await refundPayment(tx, outbox, payment.id, `order rejected: ${event.reason}`);
  }),
];
