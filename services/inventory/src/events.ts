import { notFound } from "@bazaar/runtime/errors";
import { on, onIdempotent } from "@bazaar/runtime/events/consumer";
import { events } from "@bazaar/shop/events";
import { releaseReservation } from "./reservations.js";
import { commitAllHeld } from "./store.js";

/**
 * What inventory consumes. A placed order turns its held stock into a sale; a
 * cancelled or rejected order gives it back (for a rejected order this repeats
 * the release orders already asked for, in case that call was lost). A release
 * runs in the consumer's transaction, next to the inbox row that makes a
 * redelivery harmless. The sale is one statement that changes only a HELD
 * reservation, and a reservation never returns to HELD, so a redelivered
 * OrderPlaced changes nothing by itself: it needs no inbox row, and the
 * OrderPlaced events delivered together are sold by one statement.
 */
export const inventoryEventHandlers = [
  onIdempotent(events.orderPlaced, async (deliveries, { db }) => {
    const found = await commitAllHeld(db, deliveries.map(({ event }) => event.orderId));
    const sold = new Set<string>();
    return deliveries.map(({ event: { orderId } }) => {
      const reservation = found.get(orderId);
      if (!reservation) return notFound(`reservation for order ${orderId} not found`);
      // Only a HELD reservation is sold. Events of different subjects arrive in no set order: a quick
      // cancel's OrderCancelled can be applied before the OrderPlaced it follows. Its stock is back
      // already; there is nothing to sell, and failing here would only dead-letter a valid event.
      // The same event twice in one batch (a redelivery) is sold once, by the first.
      if (reservation.state !== "HELD" || sold.has(orderId)) return false;
      sold.add(orderId);
      return true;
    });
  }),
  on(events.orderCancelled, async (event, { tx }) => {
    await releaseReservation(tx, event.orderId);
  }),
  on(events.orderRejected, async (event, { tx }) => {
    await releaseReservation(tx, event.orderId);
  }),
];
