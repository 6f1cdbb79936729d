import { type Queryable } from "@bazaar/runtime/db/database";
import { events } from "@bazaar/shop/events";
import { onIdempotent } from "@bazaar/runtime/events/consumer";
import { newId } from "@bazaar/runtime/ids";
import { type NewNotification, orderCancelled, orderConfirmed, orderRejected, paymentRefunded } from "./domain.js";
import { addNotification } from "./store.js";

/**
 * What the notifications service consumes: each order or payment event
 * becomes the message its customer is sent. A notification is keyed by the
 * event that caused it (source_event_id is unique), so its one insert is
 * idempotent by itself: a redelivered event inserts nothing, and needs no
 * inbox row or transaction around it.
 */

/** Record the notification an event caused; false if that event already caused one. */
function record(db: Queryable, eventId: string, notification: NewNotification): Promise<boolean> {
  return addNotification(db, newId("ntf"), eventId, notification);
}

export const notificationEventHandlers = [
  onIdempotent(events.orderPlaced, (event, { db, eventId }) => record(db, eventId, orderConfirmed(event))),
  onIdempotent(events.orderRejected, (event, { db, eventId }) => record(db, eventId, orderRejected(event))),
  onIdempotent(events.orderCancelled, (event, { db, eventId }) => record(db, eventId, orderCancelled(event))),
  onIdempotent(events.paymentRefunded, (event, { db, eventId }) => record(db, eventId, paymentRefunded(event))),
];
