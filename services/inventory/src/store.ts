import { fileURLToPath } from "node:url";
import { type Queryable } from "@bazaar/runtime/db/database";
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
 * Move `quantity` units from available to reserved, only if that many are
 * available. The check and the change are one statement, so two orders racing
 * for the last unit cannot both get it: the second waits on the row lock and
 * then finds too few. False when nothing moved (unknown product or too few units).
 */
export async function holdUnits(tx: Queryable, productId: string, quantity: number): Promise<boolean> {
  const rows = await tx.query(
    `update stock set available = available - $2, reserved = reserved + $2
      where product_id = $1 and available >= $2
      returning product_id`,
    [productId, quantity],
  );
  return rows.length === 1;
}

/** A HELD reservation is released: its units become available again. */
export async function returnHeldUnits(tx: Queryable, lines: readonly ReservationLine[]): Promise<void> {
  for (const line of lines) {
    await tx.query("update stock set available = available + $2, reserved = reserved - $2 where product_id = $1", [
      line.productId,
      line.quantity,
    ]);
  }
}

/** A COMMITTED reservation is released (the sale was undone): its units go back on the shelf. */
export async function restockSoldUnits(tx: Queryable, lines: readonly ReservationLine[]): Promise<void> {
  for (const line of lines) {
    await tx.query("update stock set available = available + $2 where product_id = $1", [line.productId, line.quantity]);
  }
}

/** A HELD reservation is committed: its units leave the shop. */
export async function takeHeldUnits(tx: Queryable, lines: readonly ReservationLine[]): Promise<void> {
  for (const line of lines) {
    await tx.query("update stock set reserved = reserved - $2 where product_id = $1", [line.productId, line.quantity]);
  }
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

export async function addReservationLines(tx: Queryable, orderId: string, lines: readonly ReservationLine[]): Promise<void> {
  for (const [lineNo, line] of lines.entries()) {
    await tx.query("insert into reservation_lines (order_id, product_id, line_no, quantity) values ($1, $2, $3, $4)", [
      orderId,
      line.productId,
      lineNo,
      line.quantity,
    ]);
  }
}

/** The order's reservation with its lines, locked until the transaction ends so its state cannot change underneath. */
export async function lockReservation(tx: Queryable, orderId: string): Promise<Reservation | undefined> {
  const [header] = await tx.query<{ status: ReservationState }>(
    "select status from reservations where order_id = $1 for update",
    [orderId],
  );
  if (!header) return undefined;
  const lines = await tx.query<{ product_id: string; quantity: number }>(
    "select product_id, quantity from reservation_lines where order_id = $1 order by line_no",
    [orderId],
  );
  return {
    orderId,
    lines: lines.map((row) => ({ productId: row.product_id, quantity: row.quantity })),
    state: header.status,
  };
}

export async function setReservationState(tx: Queryable, orderId: string, state: ReservationState): Promise<void> {
  await tx.query("update reservations set status = $2, updated_at = now() where order_id = $1", [orderId, state]);
}
