import {
  type Notification as NotificationMessage,
  NotificationKind as Kind,
  NotificationServiceService,
} from "@bazaar/gen/bazaar/notifications/v1/notifications";
import { type UnaryHandlers } from "@bazaar/runtime/grpc/server";
import { implement } from "@bazaar/runtime/service";
import { type Notification, type NotificationKind, parseListNotifications, toPage } from "./domain.js";
import { type Queryable } from "@bazaar/runtime/db/database";
import { listNotifications } from "./store.js";

const KINDS: Record<NotificationKind, Kind> = {
  ORDER_CONFIRMED: Kind.NOTIFICATION_KIND_ORDER_CONFIRMED,
  ORDER_REJECTED: Kind.NOTIFICATION_KIND_ORDER_REJECTED,
  ORDER_CANCELLED: Kind.NOTIFICATION_KIND_ORDER_CANCELLED,
  PAYMENT_REFUNDED: Kind.NOTIFICATION_KIND_PAYMENT_REFUNDED,
};

const toMessage = (notification: Notification): NotificationMessage => ({ ...notification, kind: KINDS[notification.kind] });

/** NotificationService's gRPC handlers: validate, ask the store, answer. */
export function notificationHandlers(db: Queryable): UnaryHandlers<typeof NotificationServiceService> {
  return {
    async listNotifications(request) {
      const { customerId, pageSize, before } = parseListNotifications(request);
      // A customer with no notifications (or unknown to us) simply has an empty list.
      const page = toPage(await listNotifications(db, customerId, before, pageSize + 1), pageSize);
      return { notifications: page.notifications.map(toMessage), nextPageToken: page.nextPageToken };
    },
  };
}

/** The service as the runtime starts it: its contract and handlers over its own database. */
export const notificationsService = implement(NotificationServiceService, ({ db }) => notificationHandlers(db));
