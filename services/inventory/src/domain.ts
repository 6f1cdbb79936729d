import { preconditionFailed, Violations } from "@bazaar/runtime/errors";
import { checkId, checkProductId, PRODUCT_ID } from "@bazaar/shop/ids";

/** Inventory's rules, free of I/O: what a reservation request is, and what each state change does to stock. */

export interface StockLevel {
  productId: string;
  /** Units that can still be reserved. */
  available: number;
  /** Units held by HELD reservations. */
  reserved: number;
}

export interface ReservationLine {
  productId: string;
  quantity: number;
}

/** HELD: units are set aside. COMMITTED: they were sold. RELEASED: they went back (or never came: a tombstone). */
export type ReservationState = "HELD" | "COMMITTED" | "RELEASED";

export interface Reservation {
  orderId: string;
  /** In the order the caller sent them. */
  lines: ReservationLine[];
  state: ReservationState;
}

export const MAX_LINES = 50;
export const MAX_QUANTITY = 100;

export function parseGetStock(request: { productId: string }): string {
  const violations = new Violations();
  checkProductId(request.productId, violations, "product_id");
  violations.throwIfAny();
  return request.productId;
}

/** For the methods that only name an order: ReleaseReservation and CommitReservation. */
export function parseOrderId(request: { orderId: string }): string {
  const violations = new Violations();
  checkId("ord", request.orderId, violations, "order_id");
  violations.throwIfAny();
  return request.orderId;
}

export interface ReserveRequest {
  orderId: string;
  lines: ReservationLine[];
}

/** Every bad field at once; a product named twice is blamed on its later line. */
export function parseReserveStock(request: ReserveRequest): ReserveRequest {
  const violations = new Violations();
  checkId("ord", request.orderId, violations, "order_id");
  if (request.lines.length === 0) violations.add("lines", "at least one line is required");
  if (request.lines.length > MAX_LINES) {
    // Skip the per-line checks: thousands of violations would not fit in the status trailer.
    violations.add("lines", `at most ${MAX_LINES} lines per reservation`).throwIfAny();
  }
  const firstLineOf = new Map<string, number>();
  request.lines.forEach((line, index) => {
    const field = `lines[${index}]`;
    checkProductId(line.productId, violations, `${field}.product_id`);
    const first = firstLineOf.get(line.productId);
    if (PRODUCT_ID.test(line.productId)) {
      if (first === undefined) firstLineOf.set(line.productId, index);
      else violations.add(`${field}.product_id`, `repeats lines[${first}].product_id; put the whole quantity on one line`);
    }
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) {
      violations.add(`${field}.quantity`, `must be 1-${MAX_QUANTITY}`);
    }
  });
  violations.throwIfAny();
  return { orderId: request.orderId, lines: request.lines.map(({ productId, quantity }) => ({ productId, quantity })) };
}

/**
 * The lines in product id order. Stock rows are always locked in this order, so
 * two transactions that share products wait for each other instead of deadlocking.
 */
export function inLockOrder(lines: readonly ReservationLine[]): ReservationLine[] {
  return [...lines].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

export const outOfStockMessage = (productId: string, available: number, requested: number) =>
  `out of stock: ${productId} (available ${available}, requested ${requested})`;

/**
 * ReserveStock for an order that already has a reservation: the same answer as
 * the first time, stock untouched. A released order stays released, so a retry
 * that arrives after the compensation cannot hold stock that nobody will free.
 */
export function reserveAgain(existing: Reservation): Reservation {
  if (existing.state === "RELEASED") throw preconditionFailed(`reservation for order ${existing.orderId} was released`);
  return existing;
}

/** What ReleaseReservation does to stock, by the reservation's state. */
export type ReleaseEffect = "return-held-units" | "restock-sold-units" | "none";

export function releaseEffect(state: ReservationState): ReleaseEffect {
  switch (state) {
    case "HELD":
      return "return-held-units";
    case "COMMITTED":
      return "restock-sold-units";
    case "RELEASED":
      return "none";
  }
}

/** What CommitReservation does to stock, by the reservation's state; a released order cannot be sold. */
export type CommitEffect = "take-held-units" | "none";

export function commitEffect(reservation: Reservation): CommitEffect {
  switch (reservation.state) {
    case "HELD":
      return "take-held-units";
    case "COMMITTED":
      return "none";
    case "RELEASED":
      throw preconditionFailed(`reservation for order ${reservation.orderId} was released`);
  }
}
