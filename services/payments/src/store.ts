import { fileURLToPath } from "node:url";
import { type Queryable } from "@bazaar/runtime/db/database";
import { type OutboxEntry, outboxInsert } from "@bazaar/runtime/events/outbox";
import { type ChargeCommand, type Payment, type PaymentStatus } from "./domain.js";

/**
 * SQL for the payments database. Every function takes the Queryable to run on,
 * so callers compose them inside one transaction (`db.transaction(tx => …)`)
 * together with whatever else must commit with them (outbox rows).
 */

/** The schema, applied in order at start. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

interface PaymentRow {
  id: string;
  idempotency_key: string;
  order_id: string;
  customer_id: string;
  amount_minor: number;
  currency_code: string;
  status: PaymentStatus;
  decline_reason: string;
  refund_reason: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = [
  "id, idempotency_key, order_id, customer_id, amount_minor, currency_code",
  "status, decline_reason, refund_reason, created_at, updated_at",
].join(", ");

const toPayment = (row: PaymentRow): Payment => ({
  id: row.id,
  idempotencyKey: row.idempotency_key,
  orderId: row.order_id,
  customerId: row.customer_id,
  amount: { currencyCode: row.currency_code, minorUnits: row.amount_minor },
  status: row.status,
  declineReason: row.decline_reason,
  refundReason: row.refund_reason,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const first = (rows: PaymentRow[]): Payment | undefined => (rows[0] ? toPayment(rows[0]) : undefined);

export async function getPayment(db: Queryable, id: string): Promise<Payment | undefined> {
  return first(await db.query<PaymentRow>(`select ${COLUMNS} from payments where id = $1`, [id]));
}

/** The payment with this id, locked until the transaction ends, so a concurrent refund waits and then sees the result. */
export async function getPaymentForUpdate(tx: Queryable, id: string): Promise<Payment | undefined> {
  return first(await tx.query<PaymentRow>(`select ${COLUMNS} from payments where id = $1 for update`, [id]));
}

/** Every payment of an order, locked until the transaction ends (the order's lock first: lockOrder). */
export async function paymentsOfOrderForUpdate(tx: Queryable, orderId: string): Promise<Payment[]> {
  const rows = await tx.query<PaymentRow>(`select ${COLUMNS} from payments where order_id = $1 order by created_at, id for update`, [orderId]);
  return rows.map(toPayment);
}

/**
 * The payment of an order (for a test or an operator). Orders charge with one
 * key per order, so there is normally one; if a caller used several keys, the
 * one that took money (CAPTURED or REFUNDED) wins over declines, then the newest.
 */
export async function findPaymentOfOrder(db: Queryable, orderId: string): Promise<Payment | undefined> {
  return first(
    await db.query<PaymentRow>(
      `select ${COLUMNS} from payments where order_id = $1
        order by status in ('CAPTURED', 'REFUNDED') desc, created_at desc, id
        limit 1`,
      [orderId],
    ),
  );
}

/**
 * Hold the order's lock until the transaction ends. Whoever learns that an
 * order is given up (its event) and whoever settles a charge for it take this
 * lock first, so one of them always sees what the other did: a capture
 * settled first is found and refunded by the event; an order given up first
 * is found by the settle, which refunds at once.
 */
const orderLock = (orderId: string) => `pg_advisory_xact_lock(hashtextextended('payments-order:' || ${orderId}, 0))`;

export async function lockOrder(tx: Queryable, orderId: string): Promise<void> {
  await tx.query(`select ${orderLock("$1")}`, [orderId]);
}

/** Remember that an order was given up (the first reason stands). */
export async function recordGivenUp(tx: Queryable, orderId: string, reason: string): Promise<void> {
  await tx.query("insert into given_up_orders (order_id, reason) values ($1, $2) on conflict (order_id) do nothing", [orderId, reason]);
}

/** Why the order was given up, or undefined if it was not. */
export async function givenUpReason(db: Queryable, orderId: string): Promise<string | undefined> {
  const [row] = await db.query<{ reason: string }>("select reason from given_up_orders where order_id = $1", [orderId]);
  return row?.reason;
}

/**
 * Record `event` in the outbox and answer why `orderId` was given up
 * (undefined: it was not), in one statement. Its snapshot is taken when it
 * starts, so it sees every given-up order committed before the transaction took
 * the order's lock in an earlier statement (settlePayment).
 */
export async function recordAndCheckGivenUp(tx: Queryable, event: OutboxEntry, orderId: string): Promise<string | undefined> {
  const recorded = outboxInsert("recorded", event, 2, "true");
  const [row] = await tx.query<{ reason: string | null }>(`with ${recorded.sql} select (select reason from given_up_orders where order_id = $1) as reason`, [
    orderId,
    ...recorded.params,
  ]);
  return row?.reason ?? undefined;
}

/**
 * Claim the command's idempotency key with a PENDING row. Undefined if the key
 * is taken, or if its order was given up: on PostgreSQL a concurrent insert of
 * the same key waits for the other transaction and then does nothing, so
 * exactly one caller claims it.
 */
export async function insertPendingPayment(db: Queryable, id: string, command: ChargeCommand): Promise<Payment | undefined> {
  return first(
    await db.query<PaymentRow>(
      `insert into payments (id, idempotency_key, order_id, customer_id, amount_minor, currency_code, status)
       select $1, $2, $3, $4, $5, $6, 'PENDING'
        where not exists (select 1 from given_up_orders where order_id = $3)
       on conflict (idempotency_key) do nothing
       returning ${COLUMNS}`,
      [id, command.idempotencyKey, command.orderId, command.customerId, command.amount.minorUnits, command.amount.currencyCode],
    ),
  );
}

/** The payment a key was first used for, locked until the transaction ends. */
export async function getPaymentByKeyForUpdate(tx: Queryable, idempotencyKey: string): Promise<Payment | undefined> {
  return first(
    await tx.query<PaymentRow>(`select ${COLUMNS} from payments where idempotency_key = $1 for update`, [idempotencyKey]),
  );
}

/** PENDING payments whose lease ran out, oldest first, a hundred at a time. */
export async function pendingPastLease(db: Queryable, leaseMs: number): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `select id from payments
      where status = 'PENDING' and updated_at <= now() - $1::double precision * interval '1 millisecond'
      order by updated_at limit 100`,
    [leaseMs],
  );
  return rows.map((row) => row.id);
}

/**
 * Re-claim a PENDING row whose lease ran out: the process that claimed it died
 * between claiming and settling. True if this caller now owns it.
 */
export async function reclaimExpiredPending(tx: Queryable, id: string, leaseMs: number): Promise<boolean> {
  const rows = await tx.query(
    `update payments set updated_at = now()
      where id = $1 and status = 'PENDING' and updated_at <= now() - $2::double precision * interval '1 millisecond'
      returning id`,
    [id, leaseMs],
  );
  return rows.length === 1;
}

/**
 * Settle a PENDING payment with the provider's answer, its order's lock taken
 * first (lockOrder: the lock before the row's, in the one order every
 * transaction here takes them). Undefined if it is no longer PENDING.
 */
export async function settlePayment(
  tx: Queryable,
  id: string,
  outcome: { status: "CAPTURED" } | { status: "DECLINED"; declineReason: string },
): Promise<Payment | undefined> {
  const declineReason = outcome.status === "DECLINED" ? outcome.declineReason : "";
  return first(
    await tx.query<PaymentRow>(
      `with locked as (select ${orderLock("order_id")} as held from payments where id = $1)
       update payments set status = $2, decline_reason = $3, updated_at = now()
         from locked
        where id = $1 and status = 'PENDING'
        returning ${COLUMNS}`,
      [id, outcome.status, declineReason],
    ),
  );
}

/** Forget a PENDING payment whose provider call moved no money, so a retry with its key can charge. */
export async function deletePendingPayment(db: Queryable, id: string): Promise<void> {
  await db.query("delete from payments where id = $1 and status = 'PENDING'", [id]);
}

export async function markRefunded(tx: Queryable, id: string, reason: string): Promise<Payment> {
  const payment = first(
    await tx.query<PaymentRow>(
      `update payments set status = 'REFUNDED', refund_reason = $2, updated_at = now()
        where id = $1 and status = 'CAPTURED'
        returning ${COLUMNS}`,
      [id, reason],
    ),
  );
  if (!payment) throw new Error(`payment ${id} was not CAPTURED when marked refunded; it must be locked first`);
  return payment;
}
