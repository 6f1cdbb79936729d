import { fileURLToPath } from "node:url";
import { type Queryable } from "@bazaar/runtime/db/database";
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

/**
 * Record a notification caused by the event `sourceEventId`, in one statement;
 * false if that event already caused one (then nothing is written).
 */
export async function addNotification(db: Queryable, id: string, sourceEventId: string, notification: NewNotification): Promise<boolean> {
  const rows = await db.query(
    `insert into notifications (id, customer_id, order_id, kind, message, source_event_id)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (source_event_id) do nothing
     returning id`,
    [id, notification.customerId, notification.orderId, notification.kind, notification.message, sourceEventId],
  );
  return rows.length > 0;
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
