import { type Order as OrderMessage, OrderServiceService, OrderStatus } from "@bazaar/gen/bazaar/orders/v1/orders";
import { notFound } from "@bazaar/runtime/errors";
import { events } from "@bazaar/shop/events";
import { type UnaryHandlers } from "@bazaar/runtime/grpc/server";
import { encodePageToken } from "@bazaar/runtime/pagination";
import { implement } from "@bazaar/runtime/service";
import { cancelAction, lineTotal, type Order, parseCancelOrder, parseListOrders, parseOrderId, parsePlaceOrder } from "./domain.js";
import { cachedCatalog } from "./cached-catalog.js";
import { type Downstream, placeOrder } from "./place-order.js";
import { cancelOrder, getOrder, listOrders } from "./store.js";

/** OrderService's gRPC handlers: validate, run the use case, answer. */
export function orderHandlers(deps: Parameters<typeof placeOrder>[0]): UnaryHandlers<typeof OrderServiceService> {
  const { db, outbox } = deps;
  return {
    async placeOrder(request, call) {
      const command = parsePlaceOrder(request);
      return { order: toMessage(await placeOrder(deps, command, call.deadline)) };
    },

    async getOrder(request) {
      const orderId = parseOrderId(request);
      const order = await getOrder(db, orderId);
      if (!order) throw notFound(`order ${orderId} not found`);
      return { order: toMessage(order) };
    },

    async listOrders(request) {
      const query = parseListOrders(request);
      const { orders, next } = await listOrders(db, query);
      return { orders: orders.map(toMessage), nextPageToken: next ? encodePageToken(next) : "" };
    },

    async cancelOrder(request) {
      const { orderId, reason } = parseCancelOrder(request);
      const order = await db.transaction(async (tx) => {
        const current = await getOrder(tx, orderId, { forUpdate: true });
        if (!current) throw notFound(`order ${orderId} not found`);
        if (cancelAction(current) === "already-cancelled") return current;
        // Locked above and checked CONFIRMED by cancelAction: the guarded update cannot miss.
        const cancelled = (await cancelOrder(tx, orderId, reason))!;
        // Payments refunds and inventory releases when they consume this.
        await outbox.add(tx, events.orderCancelled, {
          orderId,
          customerId: cancelled.customerId,
          paymentId: cancelled.paymentId,
          reason,
          occurredAt: cancelled.updatedAt,
        });
        return cancelled;
      });
      return { order: toMessage(order) };
    },
  };
}

const STATUS: Record<Order["status"], OrderStatus> = {
  PENDING: OrderStatus.ORDER_STATUS_PENDING,
  CONFIRMED: OrderStatus.ORDER_STATUS_CONFIRMED,
  REJECTED: OrderStatus.ORDER_STATUS_REJECTED,
  CANCELLED: OrderStatus.ORDER_STATUS_CANCELLED,
};

function toMessage(order: Order): OrderMessage {
  return {
    id: order.id,
    customerId: order.customerId,
    lines: order.lines.map((line) => ({ ...line, lineTotal: lineTotal(line) })),
    total: order.total,
    status: STATUS[order.status],
    statusReason: order.statusReason,
    paymentId: order.paymentId,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
}

/**
 * Orders as the runtime starts it, calling its dependencies through
 * `downstream`, and pricing through the catalog's answers kept as long as it
 * says they stay fresh (cached-catalog.ts), so most orders are priced without a call.
 */
export const orderServiceWith = (downstream: Downstream, timeoutMs: number) =>
  implement(OrderServiceService, ({ db, outbox, logger }) =>
    orderHandlers({ db, outbox, logger, downstream, prices: cachedCatalog(downstream.catalog), timeoutMs }),
  );
