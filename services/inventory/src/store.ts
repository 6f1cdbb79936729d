import { fileURLToPath } from "node:url";
import { batchedStatement } from "@bazaar/runtime/db/batched-statement";
import { columnsOf, type Queryable } from "@bazaar/runtime/db/database";
import { type Reservation, type ReservationLine, type ReservationState, type StockLevel } from "./domain.js";

/**
 * SQL for inventory's own database. Every function takes the Queryable to run
 * on, so callers compose them inside one transaction (`db.transaction(tx => …)`)
 * together with whatever else must commit with them.
 */

/** The schema and seed stock, applied in order at start. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

interface StockRow {
  product_id: string;
  available: number;
  reserved: number;
}

export async function readStock(db: Queryable, productId: string): Promise<StockLevel | undefined> {
  const [row] = await db.query<StockRow>("select product_id, available, reserved from stock where product_id = $1", [
    productId,
  ]);
  return row && { productId: row.product_id, available: row.available, reserved: row.reserved };
}

/**
 * The CTE `locked` every statement that changes stock starts with: the stock
 * rows of `lines` (a relation of product_id and quantity), with `columns` of
 * the row `s` and its line `l`, where `condition` holds, locked in product id
 * order (byte order, as inLockOrder sorts). Statements change only rows it has
 * locked, so transactions that share products queue for the rows in the same
 * order and cannot deadlock. It is materialized (never folded into the
 * statement) so the locks follow its order whatever join order the planner
 * picks. Lines name distinct products (parseReserveStock rejects a repeated
 * one; a reservation's lines are distinct by reservation_lines' primary key),
 * so each row is changed once.
 */
const lockedStock = (lines: string, columns = "s.product_id, l.quantity", condition = "true") =>
  `locked as materialized (
       select ${columns}
         from stock s join ${lines} on l.product_id = s.product_id
        where ${condition}
        order by s.product_id collate "C"
          for update of s
     )`;

/** The lines' parameters ($first: product ids, $first + 1: quantities) as the relation lockedStock reads. */
const lineParameters = (first: number) => `unnest($${first}::text[], $${first + 1}::int4[]) as l(product_id, quantity)`;

/**
 * One statement that changes the stock rows of all `lines` (one round trip,
 * whatever their number), `set` saying how from the row `s` and its line `l`.
 */
async function changeStock(tx: Queryable, lines: readonly ReservationLine[], set: string): Promise<void> {
  await tx.query(
    `with ${lockedStock(lineParameters(1))}
     update stock s set ${set}
       from locked l
      where s.product_id = l.product_id`,
    [lines.map((line) => line.productId), lines.map((line) => line.quantity)],
  );
}

/** A HELD reservation is released: its units become available again. */
export async function returnHeldUnits(tx: Queryable, lines: readonly ReservationLine[]): Promise<void> {
  await changeStock(tx, lines, "available = s.available + l.quantity, reserved = s.reserved - l.quantity");
}

/** A COMMITTED reservation is released (the sale was undone): its units go back on the shelf. */
export async function restockSoldUnits(tx: Queryable, lines: readonly ReservationLine[]): Promise<void> {
  await changeStock(tx, lines, "available = s.available + l.quantity");
}

/** What reserving an order's lines did: see reserveAtOnce. */
export interface ReserveAttempt {
  created: boolean;
  available: Map<string, number>;
}

/**
 * ReserveStock for a new order, in one statement (one round trip, one
 * transaction) with the orders that arrive while one runs (batchedStatement):
 * the lines' stock rows are locked in product order (lockedStock), and the
 * HELD reservations are created, the units held and the lines added only if
 * every line's product has that many available. Nothing is written for an
 * order otherwise: a line is short, or the order has a reservation already.
 * Returns whether it created the reservation, and what each line's product had
 * available when locked (a product missing from it is unknown), so the caller
 * can say why without asking again.
 *
 * A batch is held in one statement only when its orders' lines fit together
 * (each product's units summed): then holding them one after another would
 * have held every one of them too. When they do not (the last units, an unknown
 * product), nothing of it is written and each order runs alone, in the order
 * they came, so who gets the last units and what a refused order is told are
 * exactly as without batching. An order named twice in one batch (a retry while
 * the first call runs) runs alone after it.
 */
export const reserveAtOnce = batchedStatement(async (db: Queryable, orders: ReserveItem[]): Promise<ReserveAttempt[]> => {
  const firsts = orders.filter(({ orderId }, index) => orders.findIndex((other) => other.orderId === orderId) === index);
  const together = firsts.length > 1 ? await reserveTogether(db, firsts) : undefined;
  const attempts: ReserveAttempt[] = [];
  for (const order of orders) {
    const held = firsts.includes(order) ? together?.get(order.orderId) : undefined;
    attempts.push(held ?? (await reserveAlone(db, order)));
  }
  return attempts;
});

interface ReserveItem {
  orderId: string;
  lines: readonly ReservationLine[];
}

/** One order's reserve, as its own statement. */
async function reserveAlone(db: Queryable, { orderId, lines }: ReserveItem): Promise<ReserveAttempt> {
  const [row] = await db.query<{ created: boolean; products: string[] | null; available: number[] | null }>(
    `with ${lockedStock(lineParameters(2), "s.product_id, s.available, l.quantity")}, enough as (
       select count(*) = cardinality($2::text[]) and coalesce(bool_and(available >= quantity), false) as ok from locked
     ), created as (
       insert into reservations (order_id, status) select $1, 'HELD' where (select ok from enough)
       on conflict (order_id) do nothing
       returning order_id
     ), held as (
       update stock s set available = s.available - l.quantity, reserved = s.reserved + l.quantity
         from locked l
        where s.product_id = l.product_id and exists (select 1 from created)
     ), added as (
       insert into reservation_lines (order_id, product_id, line_no, quantity)
       select $1, product_id, (n - 1)::int, quantity
         from unnest($2::text[], $3::int4[]) with ordinality as line(product_id, quantity, n)
        where exists (select 1 from created)
     )
     select exists (select 1 from created) as created, array_agg(product_id) as products, array_agg(available) as available from locked`,
    [orderId, lines.map((line) => line.productId), lines.map((line) => line.quantity)],
  );
  return { created: row?.created ?? false, available: availableOf(row?.products, row?.available) };
}

/**
 * Several orders (distinct ids) in one statement, if their lines fit together:
 * each order's attempt, or undefined when they do not and nothing was written.
 * Every product's summed units are checked against the locked rows. An order
 * that has a reservation already is counted in that check but not held (on
 * conflict): counting it can only send a batch to run alone, never hold one
 * that does not fit.
 */
async function reserveTogether(db: Queryable, orders: ReserveItem[]): Promise<Map<string, ReserveAttempt> | undefined> {
  const lines = orders.flatMap(({ orderId, lines: orderLines }) => orderLines.map((line, lineNo) => ({ orderId, lineNo, ...line })));
  const [row] = await db.query<{ ok: boolean; created: string[]; products: string[] | null; available: number[] | null }>(
    `with line as (
       select * from unnest($1::text[], $2::text[], $3::int4[], $4::int4[]) as line(order_id, product_id, quantity, line_no)
     ), ${lockedStock("(select product_id, sum(quantity)::int4 as quantity from line group by product_id) l", "s.product_id, s.available, l.quantity")}, enough as (
       select count(*) = (select count(distinct product_id) from line) and coalesce(bool_and(available >= quantity), false) as ok from locked
     ), created as (
       insert into reservations (order_id, status) select order_id, 'HELD' from unnest($5::text[]) as o(order_id) where (select ok from enough)
       on conflict (order_id) do nothing
       returning order_id
     ), held as (
       update stock s set available = s.available - h.quantity, reserved = s.reserved + h.quantity
         from locked l join (
           select line.product_id, sum(line.quantity)::int4 as quantity from line join created using (order_id) group by line.product_id
         ) h on h.product_id = l.product_id
        where s.product_id = l.product_id
     ), added as (
       insert into reservation_lines (order_id, product_id, line_no, quantity)
       select line.order_id, line.product_id, line.line_no, line.quantity from line join created using (order_id)
     )
     select (select ok from enough) as ok, array(select order_id from created) as created,
            array_agg(product_id) as products, array_agg(available) as available from locked`,
    [
      ...columnsOf(lines, (line) => line.orderId, (line) => line.productId, (line) => line.quantity, (line) => line.lineNo),
      orders.map(({ orderId }) => orderId),
    ],
  );
  if (!row?.ok) return undefined;
  const created = new Set(row.created);
  const available = availableOf(row.products, row.available);
  return new Map(orders.map(({ orderId }) => [orderId, { created: created.has(orderId), available }]));
}

const availableOf = (products: string[] | null | undefined, available: number[] | null | undefined) =>
  new Map((products ?? []).map((productId, index) => [productId, available![index]!]));

/**
 * Turn the HELD reservations of `orderIds` into sales, in one statement: the
 * reservation rows locked first (in order id order, so two such statements
 * cannot deadlock), then the stock rows of the HELD ones' lines in product
 * order, as every writer takes them; their units taken and their state set to
 * COMMITTED. Returns each reservation found as it was before (an order without
 * one is missing from the map), so the caller applies commitEffect to what it
 * found: nothing was written for one that was not HELD.
 */
export async function commitAllHeld(db: Queryable, orderIds: readonly string[]): Promise<Map<string, Reservation>> {
  const rows = await db.query<{ order_id: string; status: ReservationState; product_id: string | null; quantity: number | null }>(
    `with found as materialized (
       select order_id, status from reservations where order_id = any($1::text[]) order by order_id for update
     ), lines as materialized (
       select l.order_id, l.product_id, l.quantity, l.line_no, f.status from reservation_lines l join found f on f.order_id = l.order_id
     ), held as (
       select product_id, sum(quantity)::int4 as quantity from lines where status = 'HELD' group by product_id
     ), ${lockedStock("held l")}, taken as (
       update stock s set reserved = s.reserved - l.quantity from locked l where s.product_id = l.product_id
     ), committed as (
       update reservations r set status = 'COMMITTED', updated_at = now() from found f where r.order_id = f.order_id and f.status = 'HELD'
     )
     select f.order_id, f.status, l.product_id, l.quantity from found f left join lines l on l.order_id = f.order_id order by f.order_id, l.line_no`,
    [orderIds],
  );
  const byOrder = new Map<string, typeof rows>();
  for (const row of rows) (byOrder.get(row.order_id) ?? byOrder.set(row.order_id, []).get(row.order_id)!).push(row);
  return new Map([...byOrder].map(([orderId, orderRows]) => [orderId, reservationOf(orderId, orderRows)!]));
}

/** commitAllHeld for one order: its reservation as it was before, or undefined if it has none. */
export async function commitIfHeld(db: Queryable, orderId: string): Promise<Reservation | undefined> {
  return (await commitAllHeld(db, [orderId])).get(orderId);
}

/**
 * Create the reservation of an order, without lines. False if the order already
 * has one: the unique order id makes concurrent first calls for one order agree
 * (the later insert waits for the earlier transaction, then sees its row).
 */
export async function createReservation(tx: Queryable, orderId: string, state: ReservationState): Promise<boolean> {
  const rows = await tx.query(
    "insert into reservations (order_id, status) values ($1, $2) on conflict (order_id) do nothing returning order_id",
    [orderId, state],
  );
  return rows.length === 1;
}

/**
 * The order's reservation with its lines, in one statement, the reservation
 * row locked until the transaction ends so its state cannot change underneath.
 * A reservation's lines are committed with it and never change afterwards, so
 * the lines this statement reads are those of the row it locks.
 */
export async function lockReservation(tx: Queryable, orderId: string): Promise<Reservation | undefined> {
  const rows = await tx.query<{ status: ReservationState; product_id: string | null; quantity: number | null }>(
    `select r.status, l.product_id, l.quantity
       from reservations r left join reservation_lines l on l.order_id = r.order_id
      where r.order_id = $1
      order by l.line_no
        for update of r`,
    [orderId],
  );
  return reservationOf(orderId, rows);
}

export async function setReservationState(tx: Queryable, orderId: string, state: ReservationState): Promise<void> {
  await tx.query("update reservations set status = $2, updated_at = now() where order_id = $1", [orderId, state]);
}

/** A reservation from rows of its state and one line each (a tombstone: one row with null line columns); undefined from none. */
function reservationOf(orderId: string, rows: Array<{ status: ReservationState; product_id: string | null; quantity: number | null }>): Reservation | undefined {
  const [header] = rows;
  if (!header) return undefined;
  return {
    orderId,
    lines: rows.flatMap((row) => (row.product_id === null ? [] : [{ productId: row.product_id, quantity: row.quantity! }])),
    state: header.status,
  };
}
