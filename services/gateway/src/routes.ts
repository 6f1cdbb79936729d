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
import { notFound } from "@bazaar/runtime/errors";
import { forbidden } from "./http-error.js";
import { type Clients } from "./calls.js";
import { type Reply, type Route } from "./http.js";

/**
 * Bodies are the generated toJSON of the response message (the proto3 JSON
 * mapping: lowerCamelCase names, defaults omitted), so curl users see the
 * shapes grpcurl users see.
 */
const ok = (body: unknown, status = 200, headers?: Record<string, string>): Reply => ({ status, body, ...(headers ? { headers } : {}) });

/**
 * Every path the gateway serves: method, pattern, and the call it makes.
 * Orders and notifications are a customer's own (`customer: true`: a bearer
 * token is required, see bearer.ts); the catalog and the probes are public.
 */
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
      customer: true,
      handle: async (request) => {
        const idempotencyKey = idempotencyKeyOf(request.header("idempotency-key"));
        const body = await request.json({ required: true });
        const placeOrder = placeOrderRequestOf(body, idempotencyKey);
        const response = await orders.placeOrder({ ...placeOrder, customerId: orderingCustomer(placeOrder.customerId, request.customerId) });
        const location = response.order ? { location: `/api/orders/${encodeURIComponent(response.order.id)}` } : undefined;
        return ok(PlaceOrderResponse.toJSON(response), 201, location);
      },
    },
    {
      method: "GET",
      pattern: "/api/orders/:id",
      customer: true,
      handle: async ({ params, customerId }) => ok(GetOrderResponse.toJSON(await ownOrder(orders, params.id!, customerId))),
    },
    {
      method: "POST",
      pattern: "/api/orders/:id/cancel",
      customer: true,
      handle: async (request) => {
        const body = await request.json({ required: false });
        const cancel = cancelOrderRequestOf(request.params.id!, body);
        // Orders does not know who asks: the gateway checks the order is theirs first.
        await ownOrder(orders, cancel.orderId, request.customerId);
        return ok(CancelOrderResponse.toJSON(await orders.cancelOrder(cancel)));
      },
    },

    {
      method: "GET",
      pattern: "/api/customers/:id/notifications",
      customer: true,
      handle: async ({ params, query, customerId }) => {
        if (params.id !== customerId) throw notFound(`customer ${params.id!} not found`);
        return ok(ListNotificationsResponse.toJSON(await notifications.listNotifications({ customerId, ...pageRequestOf(query) })));
      },
    },
  ];
}

/** The token's customer orders: the body may leave customer_id out, but must not name someone else. */
function orderingCustomer(fromBody: string, fromToken: string): string {
  if (fromBody !== "" && fromBody !== fromToken) throw forbidden("customer_id must be the customer of the bearer token (or left out): no ordering for someone else");
  return fromToken;
}

/**
 * GetOrder for the order's own customer. Another customer's order is NOT_FOUND
 * in the very words orders uses for an order that does not exist, so nobody can
 * tell other customers' order ids from unused ones.
 */
async function ownOrder(orders: Clients["orders"], orderId: string, customerId: string): Promise<GetOrderResponse> {
  const response = await orders.getOrder({ orderId });
  if (response.order?.customerId !== customerId) throw notFound(`order ${orderId} not found`);
  return response;
}
