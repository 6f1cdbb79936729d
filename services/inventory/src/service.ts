import {
  type Reservation as ProtoReservation,
  InventoryServiceService,
  ReservationStatus,
} from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { type Database } from "@bazaar/runtime/db/database";
import { notFound } from "@bazaar/runtime/errors";
import { type UnaryHandlers } from "@bazaar/runtime/grpc/server";
import { implement } from "@bazaar/runtime/service";
import { parseGetStock, parseOrderId, parseReserveStock, type Reservation, type ReservationState } from "./domain.js";
import { commitReservation, releaseReservation, reserveStock } from "./reservations.js";
import { readStock } from "./store.js";

/** InventoryService's gRPC handlers: validate, run the operation (each in one transaction), answer. */
export function inventoryHandlers(db: Database): UnaryHandlers<typeof InventoryServiceService> {
  return {
    async getStock(request) {
      const productId = parseGetStock(request);
      const stock = await readStock(db, productId);
      if (!stock) throw notFound(`product ${productId} not found`);
      return { stock };
    },

    async reserveStock(request) {
      const order = parseReserveStock(request);
      return { reservation: toProto(await reserveStock(db, order)) };
    },

    async releaseReservation(request) {
      const orderId = parseOrderId(request);
      return { reservation: toProto(await db.transaction((tx) => releaseReservation(tx, orderId))) };
    },

    async commitReservation(request) {
      const orderId = parseOrderId(request);
      return { reservation: toProto(await commitReservation(db, orderId)) };
    },
  };
}

const STATUS: Record<ReservationState, ReservationStatus> = {
  HELD: ReservationStatus.RESERVATION_STATUS_HELD,
  COMMITTED: ReservationStatus.RESERVATION_STATUS_COMMITTED,
  RELEASED: ReservationStatus.RESERVATION_STATUS_RELEASED,
};

const toProto = (reservation: Reservation): ProtoReservation => ({
  orderId: reservation.orderId,
  lines: reservation.lines,
  status: STATUS[reservation.state],
});

/** Inventory as the runtime starts it: its contract and handlers over its own database. */
export const inventoryService = implement(InventoryServiceService, ({ db }) => inventoryHandlers(db));
