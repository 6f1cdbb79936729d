import { fileURLToPath } from "node:url";
import { columnsOf, type Queryable } from "@bazaar/runtime/db/database";
import { type Cursor, type NewNotification, type Notification, type NotificationKind } from "./domain.js";

/** SQL for the notifications service's own database. */

/** The schema, applied in order at start. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

interface NotificationRow {
  id: string;
  customer_id: string;
  order_id: string;
  kind: NotificationKind;
  message: string;
  source_event_id: string;
  created_at: Date;
}

const COLUMNS = "id, customer_id, order_id, kind, message, source_event_id, created_at";

const toNotification = (row: NotificationRow): Notification => ({
  id: row.id,
  customerId: row.customer_id,
  orderId: row.order_id,
  kind: row.kind,
  message: row.message,
  sourceEventId: row.source_event_id,
  createdAt: row.created_at,
});

/** A notification to record, with its id and the event that caused it. */
export interface CausedNotification {
  id: string;
  sourceEventId: string;
  notification: NewNotification;
}

/**
 * Record notifications, each caused by its event, in one statement. Returns
 * the source event ids of those written: an event that already caused one
 * (earlier, or earlier in this list) writes nothing.
 */
export async function addNotifications(db: Queryable, caused: readonly CausedNotification[]): Promise<Set<string>> {
  const rows = await db.query<{ source_event_id: string }>(
    `insert into notifications (id, customer_id, order_id, kind, message, source_event_id)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       as n(id, customer_id, order_id, kind, message, source_event_id)
      -- In event id order: two replicas given the same events wait for each other in one order, never in a cycle.
      order by source_event_id
     on conflict (source_event_id) do nothing
     returning source_event_id`,
    columnsOf(
      caused,
      (one) => one.id,
      (one) => one.notification.customerId,
      (one) => one.notification.orderId,
      (one) => one.notification.kind,
      (one) => one.notification.message,
      (one) => one.sourceEventId,
    ),
  );
  return new Set(rows.map((row) => row.source_event_id));
}

/** Up to `limit` of a customer's notifications, newest first, starting strictly before `before`. */
export async function listNotifications(db: Queryable, customerId: string, before: Cursor | undefined, limit: number): Promise<Notification[]> {
  const rows = await db.query<NotificationRow>(
    `select ${COLUMNS} from notifications
     where customer_id = $1 and ($2::timestamptz is null or (created_at, id) < ($2::timestamptz, $3::text))
     order by created_at desc, id desc
     limit $4`,
    [customerId, before?.createdAt ?? null, before?.id ?? null, limit],
  );
  return rows.map(toNotification);
}
