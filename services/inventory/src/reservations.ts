import { type Queryable } from "@bazaar/runtime/db/database";
import { preconditionFailed, notFound } from "@bazaar/runtime/errors";
import {
  commitEffect,
  inLockOrder,
  outOfStockMessage,
  releaseEffect,
  type Reservation,
  type ReserveRequest,
  reserveAgain,
} from "./domain.js";
import {
  createReservation,
  lockReservation,
  reserveAtOnce,
  restockSoldUnits,
  returnHeldUnits,
  setReservationState,
  takeHeldUnits,
} from "./store.js";

/**
 * Inventory's operations. Release and commit run inside a transaction the
 * caller owns: the gRPC handlers wrap one call in `db.transaction`, and an event
 * consumer can run the same operation in the transaction that records the
 * event in its inbox; throwing (a DomainError included) rolls it all back.
 * Reserve needs no transaction around it: its write is one statement.
 */

/**
 * Hold stock for every line of the order, or for none of them. A new order
 * (the usual case) takes one statement; only a call that held nothing reads
 * again, to answer as the first call did or to say which line is short.
 */
export async function reserveStock(db: Queryable, request: ReserveRequest): Promise<Reservation> {
  const attempt = await reserveAtOnce(db, request.orderId, request.lines);
  if (attempt.created) return { orderId: request.orderId, lines: request.lines, state: "HELD" };
  const existing = await lockReservation(db, request.orderId);
  if (existing) return reserveAgain(existing);
  // Not every line could be held: say why for the first one, in lock order.
  const short = inLockOrder(request.lines).find((line) => (attempt.available.get(line.productId) ?? -1) < line.quantity);
  if (!short) throw new Error(`reservation for order ${request.orderId} was neither made nor found`);
  const available = attempt.available.get(short.productId);
  if (available === undefined) throw notFound(`product ${short.productId} not found`);
  throw preconditionFailed(outOfStockMessage(short.productId, available, short.quantity));
}

/**
 * Give the order's stock back: held units become available again, sold units
 * are restocked; releasing twice changes nothing the second time.
 *
 * An order we have never seen gets a tombstone: a RELEASED reservation with no
 * lines. Orders compensate by releasing when a reserve call failed or timed out,
 * and that release can overtake the reserve it compensates (the reserve still in
 * flight, or retried later). Without the tombstone the late reserve would hold
 * stock for an order that is already rejected, and nobody would ever free it;
 * with it, the late reserve is answered FAILED_PRECONDITION and holds nothing.
 */
export async function releaseReservation(tx: Queryable, orderId: string): Promise<Reservation> {
  let reservation = await lockReservation(tx, orderId);
  if (!reservation) {
    if (await createReservation(tx, orderId, "RELEASED")) return { orderId, lines: [], state: "RELEASED" };
    // A reserve for this order committed between our read and our insert: release what it holds.
    reservation = await lockReservation(tx, orderId);
    if (!reservation) throw new Error(`reservation for order ${orderId} vanished while it was being released`);
  }
  const effect = releaseEffect(reservation.state);
  if (effect === "none") return reservation;
  if (effect === "return-held-units") await returnHeldUnits(tx, reservation.lines);
  if (effect === "restock-sold-units") await restockSoldUnits(tx, reservation.lines);
  await setReservationState(tx, orderId, "RELEASED");
  return { ...reservation, state: "RELEASED" };
}

/** Turn the order's held stock into a sale; committing twice changes nothing the second time. */
export async function commitReservation(tx: Queryable, orderId: string): Promise<Reservation> {
  return commitLockedReservation(tx, orderId, await lockReservation(tx, orderId));
}

/** commitReservation for a caller that has locked the reservation already (lockReservation in the same transaction). */
export async function commitLockedReservation(tx: Queryable, orderId: string, reservation: Reservation | undefined): Promise<Reservation> {
  if (!reservation) throw notFound(`reservation for order ${orderId} not found`);
  if (commitEffect(reservation) === "none") return reservation;
  await takeHeldUnits(tx, reservation.lines);
  await setReservationState(tx, orderId, "COMMITTED");
  return { ...reservation, state: "COMMITTED" };
}
