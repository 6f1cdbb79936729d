import { status, type ServiceError } from "@grpc/grpc-js";
import { InventoryServiceService, ReservationStatus } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { newId } from "@bazaar/runtime/ids";
import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { DomainError } from "@bazaar/runtime/errors";
import { type EventHandler } from "@bazaar/runtime/events/consumer";
import { countingStatements, freshDatabase, startTestService } from "@bazaar/runtime/testing";
import { OrderPlaced } from "@bazaar/gen/bazaar/orders/v1/events";
import { events } from "@bazaar/shop/events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outOfStockMessage } from "../src/domain.js";
import { inventoryEventHandlers } from "../src/events.js";
import { reserveStock } from "../src/reservations.js";
import { inventoryService } from "../src/service.js";
import { migrationsDir } from "../src/store.js";

// The races: concurrent reservations overlap on PostgreSQL's row locks. These
// tests are what proves the row locks, the lock order and the unique order id do
// their job.

let service: Awaited<ReturnType<typeof startTestService>>;
let inventory: PromiseClient<typeof InventoryServiceService>;
/** The service's own database, for applying events as its consumer does. */
let db: Database;

beforeAll(async () => {
  const url = await freshDatabase("inventory");
  service = await startTestService("inventory", { migrationsDir, services: [inventoryService] }, { DATABASE_URL: url });
  inventory = createClient(InventoryServiceService, service.address, { deadlineMs: 10_000 });
  db = await openDatabase(url);
}, 60_000);
afterAll(async () => {
  inventory?.close();
  await db?.close();
  await service?.stop();
});

const stockOf = async (productId: string) => {
  const { stock } = await inventory.getStock({ productId });
  return { available: stock!.available, reserved: stock!.reserved };
};

describe("ReserveStock under concurrency (PostgreSQL)", () => {
  it("gives the last 3 units to exactly 3 of 10 concurrent orders", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => inventory.reserveStock({ orderId: newId("ord"), lines: [{ productId: "cold-brew-tower", quantity: 1 }] })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    const lost = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as ServiceError).code] : []));
    expect(lost).toEqual(Array(7).fill(status.FAILED_PRECONDITION));
    expect(await stockOf("cold-brew-tower")).toEqual({ available: 0, reserved: 3 });
  });

  it("does not deadlock when orders name the same products in opposite orders", async () => {
    const forward = [
      { productId: "kenya-nyeri-250g", quantity: 1 },
      { productId: "colombia-huila-1kg", quantity: 1 },
      { productId: "sumatra-mandheling-1kg", quantity: 1 },
    ];
    const orders = Array.from({ length: 12 }, (_, i) => ({
      orderId: newId("ord"),
      lines: i % 2 === 0 ? forward : [...forward].reverse(),
    }));
    await Promise.all(orders.map((order) => inventory.reserveStock(order)));
    for (const { productId } of forward) expect(await stockOf(productId)).toEqual({ available: 13, reserved: 12 });
  });

  it("holds once when one order is reserved many times at once", async () => {
    const orderId = newId("ord");
    const lines = [{ productId: "paper-filters-v60", quantity: 5 }];
    const answers = await Promise.all(Array.from({ length: 8 }, () => inventory.reserveStock({ orderId, lines })));
    expect(answers.map((a) => a.reservation?.status)).toEqual(Array(8).fill(ReservationStatus.RESERVATION_STATUS_HELD));
    expect(await stockOf("paper-filters-v60")).toEqual({ available: 20, reserved: 5 });
  });

  it("never leaves stock held when a release races the reserve it compensates", async () => {
    const lines = [{ productId: "ethiopia-yirgacheffe-250g", quantity: 2 }];
    for (let round = 0; round < 10; round++) {
      const orderId = newId("ord");
      const [reserved, released] = await Promise.allSettled([
        inventory.reserveStock({ orderId, lines }),
        inventory.releaseReservation({ orderId }),
      ]);
      // Whichever ran first, the order ends RELEASED and its units are back.
      expect(released.status).toBe("fulfilled");
      if (reserved.status === "rejected") expect((reserved.reason as ServiceError).code).toBe(status.FAILED_PRECONDITION);
      const after = await inventory.releaseReservation({ orderId });
      expect(after.reservation?.status).toBe(ReservationStatus.RESERVATION_STATUS_RELEASED);
      expect(await stockOf("ethiopia-yirgacheffe-250g")).toEqual({ available: 25, reserved: 0 });
    }
  });
});

describe("ReserveStock, orders that arrive together (PostgreSQL)", () => {
  const order = (...lines: Array<[productId: string, quantity: number]>) => ({
    orderId: newId("ord"),
    lines: lines.map(([productId, quantity]) => ({ productId, quantity })),
  });
  const linesOf = async (orderId: string) =>
    (await db.query<{ product_id: string; quantity: number }>("select product_id, quantity from reservation_lines where order_id = $1 order by line_no", [orderId])).map(
      (row) => ({ productId: row.product_id, quantity: row.quantity }),
    );

  it("holds the orders that come while one runs in one statement when their lines fit together, each with its own lines", async () => {
    const counted = countingStatements(db);
    const orders = [
      order(["aeropress-original", 1], ["chemex-6-cup", 2]),
      order(["chemex-6-cup", 1]),
      order(["aeropress-original", 3]),
      order(["chemex-6-cup", 2], ["aeropress-original", 1]),
      order(["chemex-6-cup", 1]),
    ];
    const held = await Promise.all(orders.map((one) => reserveStock(counted, one)));
    expect(held.map((reservation) => reservation.state)).toEqual(Array(5).fill("HELD"));
    // The first ran alone; the four that came meanwhile went together.
    expect(counted.statements).toBe(2);
    for (const one of orders) expect(await linesOf(one.orderId)).toEqual(one.lines);
    expect(await stockOf("aeropress-original")).toEqual({ available: 20, reserved: 5 });
    expect(await stockOf("chemex-6-cup")).toEqual({ available: 19, reserved: 6 });
  });

  it("runs each alone, in the order they came, when their lines do not fit together: the first comers get the last units", async () => {
    const counted = countingStatements(db);
    const [first, second, third] = [order(["espresso-machine", 1]), order(["espresso-machine", 1]), order(["espresso-machine", 1])];
    const answers = await Promise.allSettled([first, second, third].map((one) => reserveStock(counted, one)));
    expect(answers.map((answer) => answer.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect((answers[2] as PromiseRejectedResult).reason).toMatchObject({ kind: "precondition-failed", message: outOfStockMessage("espresso-machine", 0, 1) });
    // The first alone, the two together (nothing written), then each alone; the refused one looks for a reservation.
    expect(counted.statements).toBe(5);
    expect(await linesOf(third.orderId)).toEqual([]);
    expect(await stockOf("espresso-machine")).toEqual({ available: 0, reserved: 2 });
  });

  it("holds an order named twice in one batch once, and refuses only the order of an unknown product", async () => {
    const counted = countingStatements(db);
    const twice = order(["hand-grinder", 2]);
    const unknown = order(["hand-grinder", 1], ["no-such-grinder", 1]);
    const calls = [order(["hand-grinder", 1]), twice, twice, order(["hand-grinder", 1]), unknown];
    const answers = await Promise.allSettled(calls.map((one) => reserveStock(counted, one)));
    expect(answers.slice(0, 4).map((answer) => answer.status === "fulfilled" && answer.value.state)).toEqual(["HELD", "HELD", "HELD", "HELD"]);
    expect((answers[4] as PromiseRejectedResult).reason).toMatchObject({ kind: "not-found", message: "product no-such-grinder not found" });
    expect(await linesOf(twice.orderId)).toEqual(twice.lines);
    expect(await linesOf(unknown.orderId)).toEqual([]);
    expect(await stockOf("hand-grinder")).toEqual({ available: 21, reserved: 4 });
  });
});

describe("OrderPlaced, applied by the batch (PostgreSQL)", () => {
  const handler = inventoryEventHandlers.find((one) => one.type === events.orderPlaced) as EventHandler<OrderPlaced>;
  if (handler.kind !== "idempotent") throw new Error("inventory's OrderPlaced handler is expected to apply batches");
  const sell = (orderIds: string[]) =>
    handler.apply(
      orderIds.map((orderId) => ({ event: OrderPlaced.fromPartial({ orderId }), eventId: `evt_${orderId}` })),
      { db, subject: events.orderPlaced.subject },
    );
  const RELEASED = ReservationStatus.RESERVATION_STATUS_RELEASED;
  const reserve = async (lines: Array<{ productId: string; quantity: number }>) => {
    const orderId = newId("ord");
    await inventory.reserveStock({ orderId, lines });
    return orderId;
  };

  it("sells every held order of a batch in one statement, however many share a product; the rest change nothing", async () => {
    const first = await reserve([{ productId: "moka-pot-6-cup", quantity: 2 }, { productId: "travel-mug", quantity: 1 }]);
    const second = await reserve([{ productId: "moka-pot-6-cup", quantity: 3 }]);
    const released = await reserve([{ productId: "moka-pot-6-cup", quantity: 4 }]);
    await inventory.releaseReservation({ orderId: released });
    const unknown = newId("ord");

    const outcomes = await sell([first, second, first, released, unknown]);
    expect(outcomes.slice(0, 4)).toEqual([true, true, false, false]);
    expect(outcomes[4]).toBeInstanceOf(DomainError);
    expect((outcomes[4] as DomainError).kind).toBe("not-found");
    expect(await stockOf("moka-pot-6-cup")).toEqual({ available: 20, reserved: 0 });
    expect(await stockOf("travel-mug")).toEqual({ available: 24, reserved: 0 });
    expect(await sell([first, second])).toEqual([false, false]);
  });

  it("does not deadlock when batches sell overlapping orders in opposite orders while others reserve and release", async () => {
    const products = ["tamper-58mm", "knock-box", "cupping-spoon"];
    const orders = await Promise.all(
      Array.from({ length: 12 }, (_, i) => reserve((i % 2 === 0 ? products : [...products].reverse()).map((productId) => ({ productId, quantity: 1 })))),
    );
    const batches = [orders.slice(0, 8), orders.slice(4).reverse(), orders.slice(2, 10)];
    const [sold, released] = await Promise.all([
      Promise.all(batches.map(sell)),
      // Released while the batches sell: whichever comes first, the order ends with its units back.
      Promise.all(orders.slice(10).map((orderId) => inventory.releaseReservation({ orderId }))),
    ]);
    const soldBy = batches.flatMap((batch, b) => batch.filter((_, i) => sold[b]![i] === true));
    // Each order was sold once at most: the ten nobody released, and a released one only if its sale came first.
    expect(new Set(soldBy).size).toBe(soldBy.length);
    expect(soldBy.filter((orderId) => orders.indexOf(orderId) < 10)).toHaveLength(10);
    expect(released.map((answer) => answer.reservation?.status)).toEqual([RELEASED, RELEASED]);
    for (const productId of products) expect(await stockOf(productId)).toEqual({ available: 15, reserved: 0 });
  });
});
