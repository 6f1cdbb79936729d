import { type Queryable } from "@bazaar/runtime/db/database";
import { events } from "@bazaar/shop/events";

/**
 * The money-and-stock invariant, read from the three services' own databases
 * and the card network's books: an order is charged (a payment CAPTURED and not
 * REFUNDED) if and only if it is CONFIRMED, and its stock is sold (reservation
 * COMMITTED) if and only if it is CONFIRMED; nothing is left PENDING or HELD;
 * every charge the network made is recorded as CAPTURED or REFUNDED. Each check
 * returns the violations it found, in words, and nothing when all holds.
 */

/** What the three databases say about one order. */
export interface OrderBooks {
  order: { status: string; paymentId: string } | undefined;
  payments: Array<{ id: string; status: string; captured: number; refunded: number }>;
  reservation: string | undefined;
}

export async function booksOf(dbs: { orders: Queryable; payments: Queryable; inventory: Queryable }, orderId: string): Promise<OrderBooks> {
  const [order] = await dbs.orders.query<{ status: string; payment_id: string }>("select status, payment_id from orders where id = $1", [orderId]);
  const payments = await dbs.payments.query<{ id: string; status: string }>("select id, status from payments where order_id = $1 order by created_at", [orderId]);
  const published = await paymentEventsOf(dbs.payments, orderId);
  const [reservation] = await dbs.inventory.query<{ status: string }>("select status from reservations where order_id = $1", [orderId]);
  return {
    order: order && { status: order.status, paymentId: order.payment_id },
    payments: payments.map((payment) => ({
      ...payment,
      captured: published.filter((event) => event.type === "captured" && event.paymentId === payment.id).length,
      refunded: published.filter((event) => event.type === "refunded" && event.paymentId === payment.id).length,
    })),
    reservation: reservation?.status,
  };
}

/** PaymentCaptured and PaymentRefunded in payments' outbox about one order. */
async function paymentEventsOf(db: Queryable, orderId: string): Promise<Array<{ type: "captured" | "refunded"; paymentId: string }>> {
  const rows = await db.query<{ subject: string; payload: Uint8Array }>("select subject, payload from outbox order by seq");
  return rows.flatMap((row) => {
    const type = row.subject === events.paymentCaptured.subject ? "captured" : row.subject === events.paymentRefunded.subject ? "refunded" : undefined;
    if (!type) return [];
    const event = (type === "captured" ? events.paymentCaptured : events.paymentRefunded).decode(row.payload);
    return event.orderId === orderId ? [{ type, paymentId: event.paymentId }] : [];
  });
}

/** The invariant for one order, once nothing more is in flight. */
export function orderViolations(books: OrderBooks): string[] {
  const { order, payments, reservation } = books;
  if (!order) return ["the order does not exist"];
  const violations: string[] = [];
  const confirmed = order.status === "CONFIRMED";
  const captured = payments.filter((payment) => payment.status === "CAPTURED");
  if (order.status === "PENDING") violations.push("the order is still PENDING");
  if (confirmed && captured.length === 0) violations.push("CONFIRMED but not charged");
  if (!confirmed && captured.length > 0) violations.push(`${order.status} but charged (${captured.map((payment) => payment.id).join(", ")} CAPTURED)`);
  if (confirmed && captured.length > 0 && captured[0]!.id !== order.paymentId) violations.push(`CONFIRMED with payment ${order.paymentId}, but ${captured[0]!.id} was charged`);
  if (payments.filter((payment) => payment.status === "CAPTURED" || payment.status === "REFUNDED").length > 1) violations.push("charged more than once");
  for (const payment of payments) {
    if (payment.status === "PENDING") violations.push(`payment ${payment.id} is still PENDING`);
    const tookMoney = payment.status === "CAPTURED" || payment.status === "REFUNDED";
    if (payment.captured !== (tookMoney ? 1 : 0)) violations.push(`payment ${payment.id} is ${payment.status} with ${payment.captured} PaymentCaptured events`);
    if (payment.refunded !== (payment.status === "REFUNDED" ? 1 : 0)) violations.push(`payment ${payment.id} is ${payment.status} with ${payment.refunded} PaymentRefunded events`);
  }
  if (reservation === "HELD") violations.push("its stock is still HELD");
  if (confirmed && reservation !== "COMMITTED") violations.push(`CONFIRMED but its reservation is ${reservation ?? "missing"}`);
  if (!confirmed && reservation === "COMMITTED") violations.push(`${order.status} but its stock is sold (reservation COMMITTED)`);
  return violations;
}

/**
 * The card network's books against payments': every charge the network approved
 * is recorded CAPTURED or REFUNDED, and every payment recorded as taking money
 * was approved by the network.
 */
export async function networkViolations(payments: Queryable): Promise<string[]> {
  const unrecorded = await payments.query<{ charge_id: string; status: string | null }>(
    `select l.charge_id, p.status from simulated_card_ledger l left join payments p on p.id = l.charge_id
      where l.outcome = 'APPROVED' and (p.status is null or p.status not in ('CAPTURED', 'REFUNDED'))`,
  );
  const unbacked = await payments.query<{ id: string; status: string }>(
    `select p.id, p.status from payments p left join simulated_card_ledger l on l.charge_id = p.id and l.outcome = 'APPROVED'
      where p.status in ('CAPTURED', 'REFUNDED') and l.charge_id is null`,
  );
  return [
    ...unrecorded.map((row) => `the network charged ${row.charge_id}, payments has it ${row.status ?? "nowhere"}`),
    ...unbacked.map((row) => `payment ${row.id} is ${row.status} without an approved charge on the network`),
  ];
}

/**
 * Inventory's units of `productId` against its reservations: units held are the
 * HELD reservations' and units gone are the COMMITTED ones', out of `opening`.
 */
export async function stockViolations(inventory: Queryable, productId: string, opening: number): Promise<string[]> {
  const [stock] = await inventory.query<{ available: number; reserved: number }>("select available, reserved from stock where product_id = $1", [productId]);
  const [lines] = await inventory.query<{ held: number; sold: number }>(
    `select coalesce(sum(l.quantity) filter (where r.status = 'HELD'), 0)::int as held,
            coalesce(sum(l.quantity) filter (where r.status = 'COMMITTED'), 0)::int as sold
       from reservation_lines l join reservations r using (order_id) where l.product_id = $1`,
    [productId],
  );
  if (!stock || !lines) return [`no stock row for ${productId}`];
  const violations: string[] = [];
  if (stock.reserved !== lines.held) violations.push(`${productId}: ${stock.reserved} units reserved, HELD reservations hold ${lines.held}`);
  if (stock.available !== opening - lines.sold - lines.held) {
    violations.push(`${productId}: ${stock.available} units available, expected ${opening - lines.sold - lines.held} (opening ${opening}, sold ${lines.sold}, held ${lines.held})`);
  }
  return violations;
}
