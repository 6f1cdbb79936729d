import { type InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { type PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { type Database } from "@bazaar/runtime/db/database";
import { conflict, DomainError, PASSING_KINDS, preconditionFailed, unavailable } from "@bazaar/runtime/errors";
import { fromDownstream } from "@bazaar/runtime/grpc/status";
import { events } from "@bazaar/shop/events";
import { type Outbox } from "@bazaar/runtime/events/outbox";
import { type PromiseClient } from "@bazaar/runtime/grpc/client";
import { newId } from "@bazaar/runtime/ids";
import { type Logger } from "@bazaar/runtime/logger";
import { type Catalog } from "./cached-catalog.js";
import { lineTotal, type Order, type PlaceOrderCommand, priceOrder, requestDigest } from "./domain.js";
import { confirmOrder, getOrderByKey, insertPendingOrder, rejectOrder } from "./store.js";

export interface Downstream {
  catalog: Catalog;
  inventory: PromiseClient<typeof InventoryServiceService>;
  payments: PromiseClient<typeof PaymentServiceService>;
}

export interface PlaceOrderDeps {
  db: Database;
  outbox: Outbox;
  logger: Logger;
  downstream: Downstream;
  /** Where the saga prices its lines: the downstream catalog, or its answers kept while fresh (cached-catalog.ts). */
  prices: Catalog;
  /** The whole saga's budget; the caller's deadline wins if it is sooner. */
  timeoutMs: number;
}

/** Compensations run even after the caller's deadline: they get their own short budget. */
const COMPENSATION_DEADLINE_MS = 2000;

/**
 * PlaceOrder as a saga, keyed by the caller's idempotency key:
 * 1. take the key with a PENDING order (a retry finds it and gets its outcome);
 * 2. price the items (catalog) and reserve stock (inventory) concurrently, under one deadline;
 * 3. charge the total (payments, keyed by the order id, so a retry charges once);
 * 4. confirm the order and record OrderPlaced in the outbox, in one transaction.
 * If a step fails, what was done is undone (release the stock, refund), the
 * order ends REJECTED with OrderRejected in the outbox, and the call fails with
 * the precise status. Inventory and payments also undo on OrderRejected, so a
 * compensation call lost here is still made good.
 */
export async function placeOrder(deps: PlaceOrderDeps, command: PlaceOrderCommand, callerDeadline: number): Promise<Order> {
  const deadline = Math.min(callerDeadline, Date.now() + deps.timeoutMs);
  const budget = () => ({ deadlineMs: Math.max(1, deadline - Date.now()) });
  const digest = requestDigest(command);

  const pending = await insertPendingOrder(deps.db, {
    id: newId("ord"),
    customerId: command.customerId,
    idempotencyKey: command.idempotencyKey,
    requestDigest: digest,
  });
  if (!pending) return replay(deps, command.customerId, command.idempotencyKey, digest);
  const orderId = pending.id;
  const log = deps.logger.child({ order_id: orderId });
  // The dependency's own words (addresses, connection errors) go to the log; the answer is fromDownstream's.
  const failedBy = (error: unknown, dependency: string) => {
    log.warn({ err: error, dependency }, "a dependency failed the order");
    return fromDownstream(error, dependency);
  };

  const lines = command.items.map((item) => ({ productId: item.productId, quantity: item.quantity }));
  const [priced, reserved] = await Promise.allSettled([
    deps.prices.batchGetProducts({ ids: lines.map((line) => line.productId) }, budget()),
    deps.downstream.inventory.reserveStock({ orderId, lines }, budget()),
  ]);
  if (priced.status === "rejected" || reserved.status === "rejected") {
    // Release even if the reserve failed: it may have held stock before its answer was lost.
    await release(deps, orderId, log);
    const failed = priced.status === "rejected" ? priced : (reserved as PromiseRejectedResult);
    return reject(deps, pending, failedBy(failed.reason, priced.status === "rejected" ? "catalog" : "inventory"));
  }

  let order: ReturnType<typeof priceOrder>;
  try {
    const products = priced.value.products.map((product) => ({
      id: product.id,
      name: product.name,
      price: product.price ?? { currencyCode: "", minorUnits: 0 },
    }));
    order = priceOrder(command.items, products);
  } catch (error) {
    await release(deps, orderId, log);
    return reject(deps, pending, error instanceof DomainError ? error : preconditionFailed((error as Error).message));
  }

  let paymentId: string;
  try {
    const { payment } = await deps.downstream.payments.charge(
      { idempotencyKey: orderId, orderId, customerId: command.customerId, amount: order.total, paymentToken: command.paymentToken },
      budget(),
    );
    paymentId = payment!.id;
  } catch (error) {
    await release(deps, orderId, log);
    return reject(deps, pending, failedBy(error, "payments"));
  }

  let confirmed: Order | undefined;
  try {
    const at = new Date();
    const event = deps.outbox.entry(events.orderPlaced, {
      orderId,
      customerId: pending.customerId,
      lines: order.lines.map((line) => ({ ...line, lineTotal: lineTotal(line) })),
      total: order.total,
      paymentId,
      occurredAt: at,
    });
    // The order, its lines and its OrderPlaced in one statement; no longer PENDING: see below.
    confirmed = await confirmOrder(deps.db, { id: orderId, lines: order.lines, total: order.total, paymentId, at, event });
    if (confirmed) deps.outbox.recorded(deps.db, event);
  } catch (error) {
    // Charged but not recorded: give everything back before failing.
    log.error({ err: error }, "could not confirm a charged order; compensating");
    await refund(deps, paymentId, "order could not be confirmed");
    await release(deps, orderId, log);
    return reject(deps, pending, unavailable("the order could not be recorded; nothing was charged"));
  }
  if (confirmed) return confirmed;
  // The sweeper rejected this order as stalled while the saga was still running (its confirm waited
  // too long, e.g. for a database connection under load). The rejection stands: its OrderRejected
  // makes payments refund and inventory release; both are asked now too (each is idempotent).
  log.warn("the order was rejected as stalled before it could be confirmed; refunding its charge");
  await refund(deps, paymentId, "order was rejected before it could be confirmed");
  await release(deps, orderId, log);
  return replay(deps, command.customerId, command.idempotencyKey, digest);
}

/** Best effort now; payments also refunds when it consumes OrderRejected. */
async function refund(deps: PlaceOrderDeps, paymentId: string, reason: string): Promise<void> {
  await deps.downstream.payments.refund({ paymentId, reason }, { deadlineMs: COMPENSATION_DEADLINE_MS, outlivesCaller: true }).catch(() => {});
}

/** The outcome of the first call with this idempotency key. */
async function replay(deps: PlaceOrderDeps, customerId: string, idempotencyKey: string, digest: string): Promise<Order> {
  const order = await getOrderByKey(deps.db, customerId, idempotencyKey);
  if (!order) throw conflict("idempotency_key is being used concurrently; retry");
  if (order.requestDigest !== digest) {
    throw preconditionFailed(`idempotency_key was already used for a different order (${order.id})`);
  }
  if (order.status === "PENDING") throw conflict(`order ${order.id} is still being placed; retry`);
  if (order.status === "REJECTED") throw rejectedOnRetry(order);
  return order;
}

/**
 * What a retry of a rejected order answers. A final rejection (declined card, out of
 * stock, unknown product) answers as the first call did. A rejection for a passing
 * fault answered UNAVAILABLE or DEADLINE_EXCEEDED, which tells the client to retry;
 * replaying that forever would keep it retrying and never tell it the order's fate.
 * The order is final (rejected, compensated), so the retry gets a final status that
 * names it and says what to do: place it again with a new key.
 */
function rejectedOnRetry(order: Order): DomainError {
  const kind = order.failureKind ?? "precondition-failed";
  if (!PASSING_KINDS.has(kind)) return new DomainError(kind, order.statusReason);
  return preconditionFailed(
    `order ${order.id} was rejected (${order.statusReason}); its stock and any charge are given back: place it again with a new idempotency_key`,
  );
}

/** Best effort now; inventory also releases when it consumes OrderRejected. */
async function release(deps: PlaceOrderDeps, orderId: string, log: Logger): Promise<void> {
  try {
    await deps.downstream.inventory.releaseReservation({ orderId }, { deadlineMs: COMPENSATION_DEADLINE_MS, outlivesCaller: true });
  } catch (error) {
    log.warn({ err: error }, "could not release the reservation now; the OrderRejected event will");
  }
}

/**
 * Record the rejection with its event, then fail the call with the same status a
 * retry will get. If the order is no longer PENDING (the sweeper rejected it first)
 * its rejection and event are already recorded: there is nothing more to write.
 */
async function reject(deps: PlaceOrderDeps, order: Order, error: DomainError): Promise<never> {
  await deps.db.transaction(async (tx) => {
    const rejected = await rejectOrder(tx, order.id, error.message, error.kind);
    if (!rejected) return;
    await deps.outbox.add(tx, events.orderRejected, {
      orderId: order.id,
      customerId: order.customerId,
      reason: error.message,
      occurredAt: rejected.updatedAt,
    });
  });
  throw error;
}
