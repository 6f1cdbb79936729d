import { fileURLToPath } from "node:url";
import { batchedStatement } from "@bazaar/runtime/db/batched-statement";
import { columnsOf, type Queryable } from "@bazaar/runtime/db/database";
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

/** Every payment of an order, locked until the transaction ends (its fate row's lock first: markGivenUp). */
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
 * The fate rows (migrations/005) of `orders` (SQL yielding order_id and the
 * give-up reason to record, null for none), made if payments had not heard of
 * an order, locked until the transaction ends (in order id order), as a
 * statement's expression that answers, per order_id, why the order was given up
 * (null: it was not). An insert-or-update reads the row's newest committed
 * version, not the statement's snapshot, and waits for a writer of it: whoever
 * settles a charge for an order and whoever gives the order up both go through
 * this row first, so one of them always sees what the other did. The first
 * give-up recorded stands.
 */
const lockFates = (orders: string) =>
  `insert into order_fates (order_id, given_up_reason, given_up_at)
   select order_id, reason, case when reason is null then null else now() end from (${orders}) as o(order_id, reason) order by order_id
   on conflict (order_id) do update
     set given_up_reason = coalesce(order_fates.given_up_reason, excluded.given_up_reason),
         given_up_at = coalesce(order_fates.given_up_at, excluded.given_up_at)
   returning order_id, given_up_reason`;

/** Record that an order was given up (the first reason stands), its fate row locked until the transaction ends. */
export async function markGivenUp(tx: Queryable, orderId: string, reason: string): Promise<void> {
  await tx.query(lockFates("values ($1, $2::text)"), [orderId, reason]);
}

/** Lock the order's fate row until the transaction ends; why the order was given up, or undefined. */
export async function lockFateOf(tx: Queryable, orderId: string): Promise<string | undefined> {
  const [row] = await tx.query<{ given_up_reason: string | null }>(lockFates("values ($1, null::text)"), [orderId]);
  return row?.given_up_reason ?? undefined;
}

/** Why the order was given up, or undefined if it was not. */
export async function givenUpReason(db: Queryable, orderId: string): Promise<string | undefined> {
  const [row] = await db.query<{ given_up_reason: string | null }>("select given_up_reason from order_fates where order_id = $1", [orderId]);
  return row?.given_up_reason ?? undefined;
}

/** The provider's answer to a charge, as its payment row records it. */
export type Settlement = { status: "CAPTURED" } | { status: "DECLINED"; declineReason: string };

const declineReasonOf = (settlement: Settlement) => (settlement.status === "DECLINED" ? settlement.declineReason : "");

/** A PENDING payment, the provider's answer to it, and the event that records a capture. */
export interface PendingSettlement {
  pending: Payment;
  settlement: Settlement;
  at: Date;
  event: OutboxEntry | undefined;
}

/**
 * Settle a PENDING payment with the provider's answer, and record its event with
 * it, in one statement, unless its order was given up: then nothing is written
 * and `givenUp` says why (charge.ts then settles it in a transaction). The order's fate row is
 * locked first (lockFates), before the payment's row, in the one order every
 * writer here takes them. `payment` undefined and `givenUp` undefined: the row
 * was no longer PENDING (another caller settled it). Settlements that arrive
 * while one runs share the next statement (batchedStatement): their orders'
 * fate rows locked in order id order, each payment settled, and its event
 * written, only if its own order was not given up.
 */
export const settleUnlessGivenUp = batchedStatement(
  async (db: Queryable, calls: PendingSettlement[]): Promise<Array<{ payment?: Payment; givenUp?: string }>> => {
    // A payment settled twice in one batch (a charge and recovery at once) is settled by the first; the
    // second finds it no longer PENDING, as it would have in a statement of its own.
    const settling = calls.filter(({ pending }, index) => calls.findIndex((other) => other.pending.id === pending.id) === index);
    const withEvents = settling.flatMap(({ pending, event }) => (event ? [{ event, key: pending.id }] : []));
    const recorded = outboxInsert("recorded", withEvents, 6, "e.key in (select id from settled)");
    const rows = await db.query<PaymentRow & { settling_id: string; given_up_reason: string | null }>(
      `with settling as (
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
           as s(settling_id, settling_order_id, new_status, new_decline_reason, settled_at)
       ), fate as (${lockFates("select distinct settling_order_id, null::text from settling")}), settled as (
         update payments set status = s.new_status, decline_reason = s.new_decline_reason, updated_at = s.settled_at
           from settling s join fate f on f.order_id = s.settling_order_id
          where payments.id = s.settling_id and payments.status = 'PENDING' and f.given_up_reason is null
          returning ${COLUMNS.split(", ").map((column) => `payments.${column}`).join(", ")}
       ), ${recorded.sql}
       select s.settling_id, f.given_up_reason, settled.*
         from settling s join fate f on f.order_id = s.settling_order_id left join settled on settled.id = s.settling_id`,
      [
        ...columnsOf(settling, (s) => s.pending.id, (s) => s.pending.orderId, (s) => s.settlement.status, (s) => declineReasonOf(s.settlement), (s) => s.at),
        ...recorded.params,
      ],
    );
    const byPayment = new Map(rows.map((row) => [row.settling_id, row]));
    return calls.map((call) => {
      if (!settling.includes(call)) return {};
      const row = byPayment.get(call.pending.id);
      if (row?.given_up_reason != null) return { givenUp: row.given_up_reason };
      return { payment: row?.id ? toPayment(row) : undefined };
    });
  },
);

/**
 * Settle a PENDING payment in `tx` after its order's fate row was locked
 * (lockFateOf). Undefined if it is no longer PENDING.
 */
export async function settlePayment(tx: Queryable, id: string, settlement: Settlement, at: Date): Promise<Payment | undefined> {
  return first(
    await tx.query<PaymentRow>(
      `update payments set status = $2, decline_reason = $3, updated_at = $4
        where id = $1 and status = 'PENDING'
        returning ${COLUMNS}`,
      [id, settlement.status, declineReasonOf(settlement), at],
    ),
  );
}

/**
 * Claim the command's idempotency key with a PENDING row. Undefined if the key
 * is taken, or if its order was given up: on PostgreSQL a concurrent insert of
 * the same key waits for the other transaction and then does nothing, so
 * exactly one caller claims it. Claims that arrive while one runs share the
 * next statement (batchedStatement), each row checked on its own; its rows go
 * in key order, so two replicas' batches wait for each other's keys in one
 * order and cannot deadlock.
 */
export const insertPendingPayment = batchedStatement(
  async (db: Queryable, claims: Array<{ id: string; command: ChargeCommand }>): Promise<Array<Payment | undefined>> => {
    const rows = await db.query<PaymentRow>(
      `insert into payments (id, idempotency_key, order_id, customer_id, amount_minor, currency_code, status)
       select c.id, c.idempotency_key, c.order_id, c.customer_id, c.amount_minor, c.currency_code, 'PENDING'
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[])
           as c(id, idempotency_key, order_id, customer_id, amount_minor, currency_code)
        where not exists (select 1 from order_fates f where f.order_id = c.order_id and f.given_up_reason is not null)
        order by c.idempotency_key
       on conflict (idempotency_key) do nothing
       returning ${COLUMNS}`,
      columnsOf(
        claims,
        (c) => c.id,
        (c) => c.command.idempotencyKey,
        (c) => c.command.orderId,
        (c) => c.command.customerId,
        (c) => c.command.amount.minorUnits,
        (c) => c.command.amount.currencyCode,
      ),
    );
    const claimed = new Map(rows.map((row) => [row.id, toPayment(row)]));
    return claims.map(({ id }) => claimed.get(id));
  },
);

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
 * between claiming and settling. The payment if this caller now owns it.
 */
export async function reclaimExpiredPending(tx: Queryable, id: string, leaseMs: number): Promise<Payment | undefined> {
  return first(
    await tx.query<PaymentRow>(
      `update payments set updated_at = now()
        where id = $1 and status = 'PENDING' and updated_at <= now() - $2::double precision * interval '1 millisecond'
        returning ${COLUMNS}`,
      [id, leaseMs],
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
