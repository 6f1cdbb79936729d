import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { NotificationServiceService } from "@bazaar/gen/bazaar/notifications/v1/notifications";
import { OrderServiceService } from "@bazaar/gen/bazaar/orders/v1/orders";
import { type ClientsOf } from "@bazaar/runtime/grpc/calls";

/**
 * The services behind the gateway, each with the variable of its config that
 * holds its address: the gateway makes one client each (gateway.ts), and a
 * launcher wires those variables from this table.
 */
export const gatewayCalls = {
  catalog: { service: CatalogServiceService, address: "CATALOG_ADDR" },
  orders: { service: OrderServiceService, address: "ORDERS_ADDR" },
  notifications: { service: NotificationServiceService, address: "NOTIFICATIONS_ADDR" },
} as const;

/** The gateway's clients, by service. */
export type Clients = ClientsOf<typeof gatewayCalls>;
