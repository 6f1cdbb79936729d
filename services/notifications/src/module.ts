import { serviceConfig } from "@bazaar/shop/config";
import { defineService } from "@bazaar/runtime/module";
import { notificationEventHandlers } from "./events.js";
import { notificationsService } from "./service.js";
import { migrationsDir } from "./store.js";

/** Notifications: one message to the customer for each order and payment event, read back over gRPC. */
export const notifications = defineService({
  name: "notifications",
  ports: { grpc: 50055, admin: 9055 },
  config: serviceConfig(),
  migrationsDir,
  grpc: () => [notificationsService],
  consumes: notificationEventHandlers,
});
