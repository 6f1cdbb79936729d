import { OrderCancelled, OrderPlaced, OrderRejected } from "@bazaar/gen/bazaar/orders/v1/events";
import { PaymentCaptured, PaymentRefunded } from "@bazaar/gen/bazaar/payments/v1/events";
import { eventType } from "@bazaar/runtime/events/event-type";

/**
 * Every event of the shop, bound to its generated message and (through the
 * contract's event_subject option) to its subject. Publishers and consumers
 * import these, so a subject always means one message type.
 */
export const events = {
  orderPlaced: eventType("bazaar.orders.v1.OrderPlaced", OrderPlaced),
  orderCancelled: eventType("bazaar.orders.v1.OrderCancelled", OrderCancelled),
  orderRejected: eventType("bazaar.orders.v1.OrderRejected", OrderRejected),
  paymentCaptured: eventType("bazaar.payments.v1.PaymentCaptured", PaymentCaptured),
  paymentRefunded: eventType("bazaar.payments.v1.PaymentRefunded", PaymentRefunded),
};
