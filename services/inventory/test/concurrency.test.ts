import { status, type ServiceError } from "@grpc/grpc-js";
import { InventoryServiceService, ReservationStatus } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { newId } from "@bazaar/runtime/ids";
import { startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventoryService } from "../src/service.js";
import { migrationsDir } from "../src/store.js";

// The races: concurrent reservations overlap on PostgreSQL's row locks. These
// tests are what proves the row locks, the lock order and the unique order id do
// their job.

let service: Awaited<ReturnType<typeof startTestService>>;
let inventory: PromiseClient<typeof InventoryServiceService>;

beforeAll(async () => {
  service = await startTestService("inventory", { migrationsDir, services: [inventoryService] });
  inventory = createClient(InventoryServiceService, service.address, { deadlineMs: 10_000 });
}, 60_000);
afterAll(async () => {
  inventory?.close();
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
