import { CatalogServiceService, GetProductResponse, ListProductsResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { ListNotificationsResponse, NotificationServiceService } from "@bazaar/gen/bazaar/notifications/v1/notifications";
import {
  CancelOrderResponse,
  GetOrderResponse,
  OrderServiceService,
  PlaceOrderResponse,
} from "@bazaar/gen/bazaar/orders/v1/orders";
import { type PromiseClient } from "@bazaar/runtime/grpc/client";
import { registry } from "@bazaar/runtime/observability/metrics";
import { cancelOrderRequestOf, idempotencyKeyOf, pageRequestOf, placeOrderRequestOf } from "./body.js";
import { type Reply, type Route } from "./http.js";

/** The services the gateway calls, one typed client each. */
export interface Clients {
  catalog: PromiseClient<typeof CatalogServiceService>;
  orders: PromiseClient<typeof OrderServiceService>;
  notifications: PromiseClient<typeof NotificationServiceService>;
}

/**
 * Bodies are the generated toJSON of the response message (the proto3 JSON
 * mapping: lowerCamelCase names, defaults omitted), so curl users see the
 * shapes grpcurl users see.
 */
const ok = (body: unknown, status = 200, headers?: Record<string, string>): Reply => ({ status, body, ...(headers ? { headers } : {}) });

/** Every path the gateway serves: method, pattern, and the one call it makes. */
export function apiRoutes(clients: Clients, isDraining: () => boolean): Route[] {
  const { catalog, orders, notifications } = clients;
  return [
    // Liveness: the process answers. Readiness: it takes new work; downstream health is not
    // ours to report (a restarted gateway would not heal a down catalog).
    { method: "GET", pattern: "/healthz", handle: async () => ok({ status: "alive" }) },
    {
      method: "GET",
      pattern: "/readyz",
      handle: async () => (isDraining() ? ok({ status: "NOT_SERVING" }, 503) : ok({ status: "SERVING" })),
    },

    {
      method: "GET",
      pattern: "/metrics",
      handle: async () => ({ status: 200, body: null, text: { contentType: registry.contentType, content: await registry.metrics() } }),
    },

    {
      method: "GET",
      pattern: "/api/products",
      handle: async ({ query }) => ok(ListProductsResponse.toJSON(await catalog.listProducts(pageRequestOf(query)))),
    },
    {
      method: "GET",
      pattern: "/api/products/:id",
      handle: async ({ params }) => ok(GetProductResponse.toJSON(await catalog.getProduct({ id: params.id! }))),
    },

    {
      method: "POST",
      pattern: "/api/orders",
      handle: async (request) => {
        const idempotencyKey = idempotencyKeyOf(request.header("idempotency-key"));
        const body = await request.json({ required: true });
        const response = await orders.placeOrder(placeOrderRequestOf(body, idempotencyKey));
        const location = response.order ? { location: `/api/orders/${encodeURIComponent(response.order.id)}` } : undefined;
        return ok(PlaceOrderResponse.toJSON(response), 201, location);
      },
    },
    {
      method: "GET",
      pattern: "/api/orders/:id",
      handle: async ({ params }) => ok(GetOrderResponse.toJSON(await orders.getOrder({ orderId: params.id! }))),
    },
    {
      method: "POST",
      pattern: "/api/orders/:id/cancel",
      handle: async (request) => {
        const body = await request.json({ required: false });
        return ok(CancelOrderResponse.toJSON(await orders.cancelOrder(cancelOrderRequestOf(request.params.id!, body))));
      },
    },

    {
      method: "GET",
      pattern: "/api/customers/:id/notifications",
      handle: async ({ params, query }) =>
        ok(ListNotificationsResponse.toJSON(await notifications.listNotifications({ customerId: params.id!, ...pageRequestOf(query) }))),
    },
  ];
}
