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
  commitIfHeld,
  createReservation,
  lockReservation,
  reserveAtOnce,
  restockSoldUnits,
  returnHeldUnits,
  setReservationState,
} from "./store.js";

/**
 * Inventory's operations. Release runs inside a transaction the caller owns:
 * the gRPC handler wraps it in `db.transaction`, and an event consumer runs it
 * in the transaction that records the event in its inbox; throwing (a
 * DomainError included) rolls it all back. Reserve and commit write in one
 * statement: they need no transaction around them, and run in the consumer's
 * when it has one.
 */

/**
 * Hold stock for every line of the order, or for none of them. A new order
 * (the usual case) takes one statement; only a call that held nothing reads
 * again, to answer as the first call did or to say which line is short.
 */
export async function reserveStock(db: Queryable, request: ReserveRequest): Promise<Reservation> {
  const attempt = await reserveAtOnce(db, { orderId: request.orderId, lines: request.lines });
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

/** Turn the order's held stock into a sale, in one statement; committing twice changes nothing the second time. */
export async function commitReservation(db: Queryable, orderId: string): Promise<Reservation> {
  const found = await commitIfHeld(db, orderId);
  if (!found) throw notFound(`reservation for order ${orderId} not found`);
  // commitIfHeld took the units of a HELD one; the rule says what the others answer.
  if (commitEffect(found) === "none") return found;
  return { ...found, state: "COMMITTED" };
}
