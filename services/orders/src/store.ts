import { fileURLToPath } from "node:url";
import { batchedStatement } from "@bazaar/runtime/db/batched-statement";
import { columnsOf, type Queryable } from "@bazaar/runtime/db/database";
import { type ErrorKind } from "@bazaar/runtime/errors";
import { type OutboxEntry, outboxInsert } from "@bazaar/runtime/events/outbox";
import { type Money } from "@bazaar/gen/bazaar/common/v1/money";
import { type Order, type OrderLine, type OrderPageQuery, type OrderStatus } from "./domain.js";

/** SQL for orders' own database. */

/** The schema, applied in order at start. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

interface OrderRow {
  id: string;
  customer_id: string;
  request_digest: string;
  status: OrderStatus;
  status_reason: string;
  failure_kind: ErrorKind | null;
  currency_code: string | null;
  total_minor: number | null;
  payment_id: string;
  created_at: Date;
  updated_at: Date;
}

interface LineRow {
  order_id: string;
  product_id: string;
  product_name: string;
  quantity: number;
  unit_price_minor: number;
  currency_code: string;
}

const ORDER_COLUMNS =
  "id, customer_id, request_digest, status, status_reason, failure_kind, currency_code, total_minor, payment_id, created_at, updated_at";

const toOrder = (row: OrderRow, lines: OrderLine[]): Order => ({
  id: row.id,
  customerId: row.customer_id,
  requestDigest: row.request_digest,
  status: row.status,
  statusReason: row.status_reason,
  failureKind: row.failure_kind ?? undefined,
  total: row.currency_code === null || row.total_minor === null ? undefined : { currencyCode: row.currency_code, minorUnits: row.total_minor },
  paymentId: row.payment_id,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lines,
});

/** Orders with their lines, in the rows' order. */
async function withLines(db: Queryable, rows: OrderRow[]): Promise<Order[]> {
  if (rows.length === 0) return [];
  const lines = await db.query<LineRow>(
    "select order_id, product_id, product_name, quantity, unit_price_minor, currency_code from order_lines where order_id = any($1) order by order_id, line_no",
    [rows.map((row) => row.id)],
  );
  return rows.map((row) =>
    toOrder(
      row,
      lines
        .filter((line) => line.order_id === row.id)
        .map((line) => ({
          productId: line.product_id,
          productName: line.product_name,
          quantity: line.quantity,
          unitPrice: { currencyCode: line.currency_code, minorUnits: line.unit_price_minor },
        })),
    ),
  );
}

/**
 * Take the idempotency key with a new PENDING order. Returns undefined if the
 * key is already taken (by an earlier call, or a concurrent one). Calls that
 * arrive while one runs share the next statement (batchedStatement); its rows
 * go in key order, so two replicas' batches wait for each other's keys in one
 * order and cannot deadlock.
 */
export const insertPendingOrder = batchedStatement(
  async (db: Queryable, orders: Array<{ id: string; customerId: string; idempotencyKey: string; requestDigest: string }>): Promise<Array<Order | undefined>> => {
    const rows = await db.query<OrderRow>(
      `insert into orders (id, customer_id, idempotency_key, request_digest, status)
       select id, customer_id, idempotency_key, request_digest, 'PENDING'
         from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as o(id, customer_id, idempotency_key, request_digest)
        order by customer_id, idempotency_key
       on conflict (customer_id, idempotency_key) do nothing returning ${ORDER_COLUMNS}`,
      columnsOf(orders, (o) => o.id, (o) => o.customerId, (o) => o.idempotencyKey, (o) => o.requestDigest),
    );
    // A new order has no lines yet (confirmOrder adds them): nothing to select.
    const inserted = new Map(rows.map((row) => [row.id, toOrder(row, [])]));
    return orders.map((order) => inserted.get(order.id));
  },
);

/** The customer's order placed with `idempotencyKey` (keys are each customer's own). */
export async function getOrderByKey(db: Queryable, customerId: string, idempotencyKey: string): Promise<Order | undefined> {
  const rows = await db.query<OrderRow>(`select ${ORDER_COLUMNS} from orders where customer_id = $1 and idempotency_key = $2`, [customerId, idempotencyKey]);
  return (await withLines(db, rows))[0];
}

export async function getOrder(db: Queryable, id: string, options: { forUpdate?: boolean } = {}): Promise<Order | undefined> {
  const rows = await db.query<OrderRow>(`select ${ORDER_COLUMNS} from orders where id = $1${options.forUpdate ? " for update" : ""}`, [id]);
  return (await withLines(db, rows))[0];
}

/**
 * One page of a customer's orders, newest first, and where the next page starts
 * (undefined on the last page). The cursor's timestamp is formatted by SQL, to
 * the microsecond: a JS Date keeps only milliseconds, and a cursor rounded down
 * to the millisecond would skip the orders created later in that millisecond.
 */
export async function listOrders(db: Queryable, query: OrderPageQuery): Promise<{ orders: Order[]; next: OrderPageQuery["after"] }> {
  const rows = await db.query<OrderRow & { cursor_created_at: string }>(
    `select ${ORDER_COLUMNS}, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_created_at
       from orders
      where customer_id = $1 and ($2::timestamptz is null or (created_at, id) < ($2::timestamptz, $3))
      order by created_at desc, id desc limit $4`,
    [query.customerId, query.after?.createdAt ?? null, query.after?.id ?? "", query.pageSize + 1],
  );
  // One extra row was fetched to tell whether more follow.
  const page = rows.slice(0, query.pageSize);
  const last = page.at(-1);
  const next = rows.length > query.pageSize && last ? { createdAt: last.cursor_created_at, id: last.id } : undefined;
  return { orders: await withLines(db, page), next };
}

/**
 * Every change of an order's status is a guarded transition: it happens only from
 * the states it is allowed from, and tells the caller when it did not (undefined).
 * Two writers can race for one order (the saga confirming it, the sweeper
 * rejecting it as stalled): the row lock serialises them, the guard is re-checked
 * on the row as the first one left it, and the loser learns it lost instead of
 * overwriting the winner. PENDING → CONFIRMED | REJECTED; CONFIRMED → CANCELLED.
 */

/** What confirms a PENDING order: its lines, total, payment and OrderPlaced. */
export interface Confirmation {
  id: string;
  lines: OrderLine[];
  total: Money;
  paymentId: string;
  at: Date;
  event: OutboxEntry;
}

/**
 * PENDING → CONFIRMED, with the lines, the outcome and its event, in one
 * statement (one round trip, one transaction): the lines and the outbox row are
 * inserted by data-modifying CTEs only for an order that was still PENDING. The
 * answer is built from the updated row and the lines we were given, without
 * reading them back. Undefined: the order is no longer PENDING (the sweeper
 * rejected it meanwhile) and nothing was written for it, the event neither.
 * Confirmations that arrive while one runs share the next statement
 * (batchedStatement), each order's lines and event written only with it.
 */
export const confirmOrder = batchedStatement(async (db: Queryable, confirmations: Confirmation[]): Promise<Array<Order | undefined>> => {
  const lines = confirmations.flatMap(({ id, lines: orderLines }) => orderLines.map((line, lineNo) => ({ orderId: id, lineNo, line })));
  const recorded = outboxInsert("recorded", confirmations.map(({ id, event }) => ({ event, key: id })), 13, "e.key in (select id from confirmed)");
  const rows = await db.query<OrderRow>(
    `with confirming as (
       select * from unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::timestamptz[])
         as c(order_id, new_currency_code, new_total_minor, new_payment_id, confirmed_at)
     ), confirmed as (
       update orders set status = 'CONFIRMED', currency_code = c.new_currency_code, total_minor = c.new_total_minor,
              payment_id = c.new_payment_id, updated_at = c.confirmed_at
         from confirming c
        where id = c.order_id and status = 'PENDING'
        returning ${ORDER_COLUMNS}
     ), inserted_lines as (
       insert into order_lines (order_id, line_no, product_id, product_name, quantity, unit_price_minor, currency_code)
       select * from unnest($6::text[], $7::int4[], $8::text[], $9::text[], $10::int4[], $11::int8[], $12::text[])
         as l(order_id, line_no, product_id, product_name, quantity, unit_price_minor, currency_code)
        where l.order_id in (select id from confirmed)
     ), ${recorded.sql}
     select * from confirmed`,
    [
      ...columnsOf(confirmations, (c) => c.id, (c) => c.total.currencyCode, (c) => c.total.minorUnits, (c) => c.paymentId, (c) => c.at),
      ...columnsOf(
        lines,
        (l) => l.orderId,
        (l) => l.lineNo,
        (l) => l.line.productId,
        (l) => l.line.productName,
        (l) => l.line.quantity,
        (l) => l.line.unitPrice.minorUnits,
        (l) => l.line.unitPrice.currencyCode,
      ),
      ...recorded.params,
    ],
  );
  const confirmed = new Map(rows.map((row) => [row.id, row]));
  return confirmations.map(({ id, lines: orderLines }) => {
    const row = confirmed.get(id);
    return row && toOrder(row, orderLines);
  });
});

/** PENDING → REJECTED. Undefined: the order is no longer PENDING, and nothing was written. */
export async function rejectOrder(tx: Queryable, id: string, reason: string, failureKind: ErrorKind): Promise<Order | undefined> {
  const rows = await tx.query<OrderRow>(
    `update orders set status = 'REJECTED', status_reason = $2, failure_kind = $3, updated_at = now()
      where id = $1 and status = 'PENDING' returning ${ORDER_COLUMNS}`,
    [id, reason, failureKind],
  );
  return (await withLines(tx, rows))[0];
}

/** CONFIRMED → CANCELLED. Undefined: the order is not CONFIRMED, and nothing was written. */
export async function cancelOrder(tx: Queryable, id: string, reason: string): Promise<Order | undefined> {
  const rows = await tx.query<OrderRow>(
    `update orders set status = 'CANCELLED', status_reason = $2, updated_at = now()
      where id = $1 and status = 'CONFIRMED' returning ${ORDER_COLUMNS}`,
    [id, reason],
  );
  return (await withLines(tx, rows))[0];
}
