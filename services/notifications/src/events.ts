import { type Queryable } from "@bazaar/runtime/db/database";
import { events } from "@bazaar/shop/events";
import { on } from "@bazaar/runtime/events/consumer";
import { newId } from "@bazaar/runtime/ids";
import { type NewNotification, orderCancelled, orderConfirmed, orderRejected, paymentRefunded } from "./domain.js";
import { addNotification } from "./store.js";

/**
 * What the notifications service consumes: each order or payment event
 * becomes the message its customer is sent. The runtime runs every handler in
 * the transaction that also records the event in the inbox, so a redelivered
 * event is recorded once; the write goes through that transaction only.
 */

/** Record the notification an event caused, in the consumer's transaction. */
async function record(tx: Queryable, eventId: string, notification: NewNotification): Promise<void> {
  await addNotification(tx, newId("ntf"), eventId, notification);
}

export const notificationEventHandlers = [
  on(events.orderPlaced, (event, { tx, eventId }) => record(tx, eventId, orderConfirmed(event))),
  on(events.orderRejected, (event, { tx, eventId }) => record(tx, eventId, orderRejected(event))),
  on(events.orderCancelled, (event, { tx, eventId }) => record(tx, eventId, orderCancelled(event))),
  on(events.paymentRefunded, (event, { tx, eventId }) => record(tx, eventId, paymentRefunded(event))),
];
