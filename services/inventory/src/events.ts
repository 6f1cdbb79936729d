import { notFound } from "@bazaar/runtime/errors";
import { on } from "@bazaar/runtime/events/consumer";
import { events } from "@bazaar/shop/events";
import { releaseReservation } from "./reservations.js";
import { commitIfHeld } from "./store.js";

/**
 * What inventory consumes. A placed order turns its held stock into a sale; a
 * cancelled or rejected order gives it back (for a rejected order this repeats
 * the release orders already asked for, in case that call was lost). Each runs in the consumer's transaction, next
 * to the inbox row that makes a redelivery harmless.
 */
export const inventoryEventHandlers = [
  on(events.orderPlaced, async (event, { tx }) => {
    // Only a HELD reservation is sold. Events of different subjects arrive in no set order: a quick
    // cancel's OrderCancelled can be applied before the OrderPlaced it follows. Its stock is back
    // already; there is nothing to sell, and failing here would only dead-letter a valid event.
    const found = await commitIfHeld(tx, event.orderId);
    if (!found) throw notFound(`reservation for order ${event.orderId} not found`);
  }),
  on(events.orderCancelled, async (event, { tx }) => {
    await releaseReservation(tx, event.orderId);
  }),
  on(events.orderRejected, async (event, { tx }) => {
    await releaseReservation(tx, event.orderId);
  }),
];
