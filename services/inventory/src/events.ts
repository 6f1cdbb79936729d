import { on } from "@bazaar/runtime/events/consumer";
import { events } from "@bazaar/runtime/events/catalog";
import { commitReservation, releaseReservation } from "./inventory.js";

/**
 * What inventory consumes. A placed order turns its held stock into a sale; a
 * cancelled or rejected order gives it back (for a rejected order this repeats
 * the release orders already asked for, in case that call was lost). Each runs in the consumer's transaction, next
 * to the inbox row that makes a redelivery harmless.
 */
export const inventoryEventHandlers = () => [
  on(events.orderPlaced, async (event, { tx }) => {
    await commitReservation(tx, event.orderId);
  }),
  on(events.orderCancelled, async (event, { tx }) => {
    await releaseReservation(tx, event.orderId);
  }),
  on(events.orderRejected, async (event, { tx }) => {
    await releaseReservation(tx, event.orderId);
  }),
];
