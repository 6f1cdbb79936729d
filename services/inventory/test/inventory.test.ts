import { status, type ServiceError } from "@grpc/grpc-js";
import {
  InventoryServiceService,
  type ReservationLine,
  ReservationStatus,
} from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { fieldViolationsOf } from "@bazaar/runtime/grpc/status";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { newId } from "@bazaar/runtime/ids";
import { failureOf, startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventoryService } from "../src/service.js";
import { migrationsDir } from "../src/store.js";

// Inventory as clients see it: real gRPC on a free port, real migrations and
// seed stock in a database of its own on the test cluster (PostgreSQL), through the typed promise
// client. The service is shared by the whole file, so each test works on its
// own products and its own fresh order ids.

let service: Awaited<ReturnType<typeof startTestService>>;
let inventory: PromiseClient<typeof InventoryServiceService>;

beforeAll(async () => {
  service = await startTestService("inventory", { migrationsDir, services: [inventoryService] });
  inventory = createClient(InventoryServiceService, service.address, { deadlineMs: 5000 });
});
afterAll(async () => {
  inventory?.close();
  await service?.stop();
});

const { RESERVATION_STATUS_HELD: HELD, RESERVATION_STATUS_COMMITTED: COMMITTED, RESERVATION_STATUS_RELEASED: RELEASED } =
  ReservationStatus;

const stockOf = async (productId: string) => {
  const { stock } = await inventory.getStock({ productId });
  return { available: stock!.available, reserved: stock!.reserved };
};
const reserve = (orderId: string, lines: ReservationLine[]) => inventory.reserveStock({ orderId, lines });
const release = (orderId: string) => inventory.releaseReservation({ orderId });
const commit = (orderId: string) => inventory.commitReservation({ orderId });

describe("GetStock", () => {
  it("returns the seeded stock of a product", async () => {
    const { stock } = await inventory.getStock({ productId: "water-filter-jug" });
    expect(stock).toEqual({ productId: "water-filter-jug", available: 25, reserved: 0 });
  });

  it("seeds low stock for the demo products", async () => {
    expect(await stockOf("cold-brew-tower")).toEqual({ available: 3, reserved: 0 });
    expect(await stockOf("espresso-machine")).toEqual({ available: 2, reserved: 0 });
  });

  it("answers NOT_FOUND for an unknown product", async () => {
    const error = await failureOf(inventory.getStock({ productId: "unicorn-beans" }));
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toContain("unicorn-beans");
  });

  it.each(["", "NOT A SLUG"])("answers INVALID_ARGUMENT naming product_id for %j", async (productId) => {
    const error = await failureOf(inventory.getStock({ productId }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error)).toEqual([{ field: "product_id", description: expect.any(String) }]);
  });
});

describe("ReserveStock", () => {
  it("holds every line and answers the reservation in request order", async () => {
    const orderId = newId("ord");
    const lines = [
      { productId: "v60-dripper", quantity: 2 },
      { productId: "chemex-6-cup", quantity: 1 },
    ];
    const { reservation } = await reserve(orderId, lines);
    expect(reservation).toEqual({ orderId, lines, status: HELD });
    expect(await stockOf("v60-dripper")).toEqual({ available: 23, reserved: 2 });
    expect(await stockOf("chemex-6-cup")).toEqual({ available: 24, reserved: 1 });
  });

  it("is idempotent by order id: a repeat answers the same reservation and moves stock once", async () => {
    const orderId = newId("ord");
    const lines = [{ productId: "hand-grinder", quantity: 3 }];
    const first = await reserve(orderId, lines);
    expect(await reserve(orderId, lines)).toEqual(first);
    // Even with other lines: the order's reservation is already decided.
    expect(await reserve(orderId, [{ productId: "hand-grinder", quantity: 7 }])).toEqual(first);
    expect(await stockOf("hand-grinder")).toEqual({ available: 22, reserved: 3 });
  });

  it("holds once when the same order is reserved concurrently", async () => {
    const orderId = newId("ord");
    const lines = [{ productId: "knock-box", quantity: 4 }];
    const answers = await Promise.all(Array.from({ length: 5 }, () => reserve(orderId, lines)));
    expect(answers.every((answer) => answer.reservation?.status === HELD)).toBe(true);
    expect(await stockOf("knock-box")).toEqual({ available: 21, reserved: 4 });
  });

  it("holds nothing when one line cannot be covered, naming the product and the shortfall", async () => {
    const orderId = newId("ord");
    const error = await failureOf(
      reserve(orderId, [
        { productId: "gooseneck-kettle", quantity: 1 },
        { productId: "tamper-58mm", quantity: 26 },
      ]),
    );
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toBe("out of stock: tamper-58mm (available 25, requested 26)");
    expect(await stockOf("gooseneck-kettle")).toEqual({ available: 25, reserved: 0 });
    expect(await stockOf("tamper-58mm")).toEqual({ available: 25, reserved: 0 });
    // Nor is the order remembered: there is nothing to commit.
    expect((await failureOf(commit(orderId))).code).toBe(status.NOT_FOUND);
  });

  it("answers NOT_FOUND for an unknown product and holds nothing", async () => {
    const error = await failureOf(
      reserve(newId("ord"), [
        { productId: "moka-pot-6-cup", quantity: 1 },
        { productId: "unicorn-beans", quantity: 1 },
      ]),
    );
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toContain("unicorn-beans");
    expect(await stockOf("moka-pot-6-cup")).toEqual({ available: 25, reserved: 0 });
  });

  it("answers INVALID_ARGUMENT naming every bad field", async () => {
    const error = await failureOf(
      reserve("order-42", [
        { productId: "travel-mug", quantity: 0 },
        { productId: "Travel Mug", quantity: 1 },
        { productId: "travel-mug", quantity: 101 },
      ]),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error).map((v) => v.field)).toEqual([
      "order_id",
      "lines[0].quantity",
      "lines[1].product_id",
      "lines[2].product_id",
      "lines[2].quantity",
    ]);
    expect(await stockOf("travel-mug")).toEqual({ available: 25, reserved: 0 });
  });

  it("names lines when there are none or too many", async () => {
    const none = await failureOf(reserve(newId("ord"), []));
    expect(fieldViolationsOf(none).map((v) => v.field)).toEqual(["lines"]);
    const many = Array.from({ length: 51 }, (_, i) => ({ productId: `product-${i}`, quantity: 1 }));
    expect(fieldViolationsOf(await failureOf(reserve(newId("ord"), many))).map((v) => v.field)).toEqual(["lines"]);
  });

  it("names all 100 bad fields of 50 bad lines in one answer", async () => {
    const lines = Array.from({ length: 50 }, (_, i) => ({ productId: `BAD PRODUCT ${i}`, quantity: -i }));
    const error = await failureOf(reserve(newId("ord"), lines));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error)).toHaveLength(100);
  });

  it("lets exactly as many orders as there are units reserve the last units, concurrently", async () => {
    const orders = Array.from({ length: 10 }, () => newId("ord"));
    const results = await Promise.allSettled(orders.map((orderId) => reserve(orderId, [{ productId: "cold-brew-tower", quantity: 1 }])));
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as ServiceError] : []));
    expect(won).toHaveLength(3);
    expect(lost.map((e) => e.code)).toEqual(Array(7).fill(status.FAILED_PRECONDITION));
    expect(lost[0]!.details).toBe("out of stock: cold-brew-tower (available 0, requested 1)");
    expect(await stockOf("cold-brew-tower")).toEqual({ available: 0, reserved: 3 });
  });
});

describe("ReleaseReservation", () => {
  it("gives held units back, and a second release changes nothing", async () => {
    const orderId = newId("ord");
    const lines = [{ productId: "precision-scale", quantity: 5 }];
    await reserve(orderId, lines);
    expect(await stockOf("precision-scale")).toEqual({ available: 20, reserved: 5 });

    expect((await release(orderId)).reservation).toEqual({ orderId, lines, status: RELEASED });
    expect(await stockOf("precision-scale")).toEqual({ available: 25, reserved: 0 });
    expect((await release(orderId)).reservation).toEqual({ orderId, lines, status: RELEASED });
    expect(await stockOf("precision-scale")).toEqual({ available: 25, reserved: 0 });
  });

  it("refuses to reserve or commit a released order again", async () => {
    const orderId = newId("ord");
    const lines = [{ productId: "cupping-spoon", quantity: 1 }];
    await reserve(orderId, lines);
    await release(orderId);

    const again = await failureOf(reserve(orderId, lines));
    expect(again.code).toBe(status.FAILED_PRECONDITION);
    expect(again.details).toBe(`reservation for order ${orderId} was released`);
    expect((await failureOf(commit(orderId))).code).toBe(status.FAILED_PRECONDITION);
    expect(await stockOf("cupping-spoon")).toEqual({ available: 25, reserved: 0 });
  });

  it("restocks the units of a committed order", async () => {
    const orderId = newId("ord");
    const lines = [{ productId: "descaler-500ml", quantity: 4 }];
    await reserve(orderId, lines);
    await commit(orderId);
    expect(await stockOf("descaler-500ml")).toEqual({ available: 21, reserved: 0 });

    expect((await release(orderId)).reservation).toEqual({ orderId, lines, status: RELEASED });
    expect(await stockOf("descaler-500ml")).toEqual({ available: 25, reserved: 0 });
  });

  it("leaves a tombstone for an unknown order, so a late reserve for it holds nothing", async () => {
    const orderId = newId("ord");
    expect((await release(orderId)).reservation).toEqual({ orderId, lines: [], status: RELEASED });
    expect((await release(orderId)).reservation).toEqual({ orderId, lines: [], status: RELEASED });

    const late = await failureOf(reserve(orderId, [{ productId: "porcelain-cups-set", quantity: 2 }]));
    expect(late.code).toBe(status.FAILED_PRECONDITION);
    expect(late.details).toContain(orderId);
    expect(await stockOf("porcelain-cups-set")).toEqual({ available: 25, reserved: 0 });
    expect((await failureOf(commit(orderId))).code).toBe(status.FAILED_PRECONDITION);
  });

  it.each(["", "ord_not-hex"])("answers INVALID_ARGUMENT naming order_id for %j", async (orderId) => {
    const error = await failureOf(release(orderId));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error)).toEqual([{ field: "order_id", description: expect.any(String) }]);
  });
});

describe("CommitReservation", () => {
  it("turns held units into a sale, and a second commit changes nothing", async () => {
    const orderId = newId("ord");
    const lines = [
      { productId: "milk-pitcher-600ml", quantity: 2 },
      { productId: "burr-grinder-pro", quantity: 1 },
    ];
    await reserve(orderId, lines);

    expect((await commit(orderId)).reservation).toEqual({ orderId, lines, status: COMMITTED });
    expect(await stockOf("milk-pitcher-600ml")).toEqual({ available: 23, reserved: 0 });
    expect(await stockOf("burr-grinder-pro")).toEqual({ available: 24, reserved: 0 });
    expect((await commit(orderId)).reservation).toEqual({ orderId, lines, status: COMMITTED });
    // A reserve retried after the commit answers the committed reservation and moves nothing.
    expect((await reserve(orderId, lines)).reservation).toEqual({ orderId, lines, status: COMMITTED });
    expect(await stockOf("milk-pitcher-600ml")).toEqual({ available: 23, reserved: 0 });
  });

  it("answers NOT_FOUND for an order without a reservation", async () => {
    const orderId = newId("ord");
    const error = await failureOf(commit(orderId));
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toContain(orderId);
  });

  it("answers INVALID_ARGUMENT naming order_id", async () => {
    const error = await failureOf(commit("pay_" + "0".repeat(32)));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error)).toEqual([{ field: "order_id", description: expect.any(String) }]);
  });
});

describe("stock never goes negative", () => {
  it("refuses the unit that is not there, and counts stay whole through every transition", async () => {
    const [first, second, third] = [newId("ord"), newId("ord"), newId("ord")];
    await reserve(first, [{ productId: "espresso-machine", quantity: 2 }]);
    const short = await failureOf(reserve(second, [{ productId: "espresso-machine", quantity: 1 }]));
    expect(short.code).toBe(status.FAILED_PRECONDITION);
    expect(short.details).toBe("out of stock: espresso-machine (available 0, requested 1)");
    expect(await stockOf("espresso-machine")).toEqual({ available: 0, reserved: 2 });

    await release(first);
    await reserve(third, [{ productId: "espresso-machine", quantity: 2 }]);
    await commit(third);
    await release(first);
    expect(await stockOf("espresso-machine")).toEqual({ available: 0, reserved: 0 });
  });

  it("leaves no product below zero after the whole suite", async () => {
    const ids = [
      "aeropress-original", "burr-grinder-pro", "chemex-6-cup", "cold-brew-tower", "colombia-huila-1kg",
      "cupping-spoon", "descaler-500ml", "espresso-machine", "ethiopia-yirgacheffe-250g", "gooseneck-kettle",
      "guatemala-antigua-250g", "hand-grinder", "kenya-nyeri-250g", "knock-box", "milk-pitcher-600ml",
      "moka-pot-6-cup", "paper-filters-v60", "porcelain-cups-set", "precision-scale", "sumatra-mandheling-1kg",
      "tamper-58mm", "travel-mug", "v60-dripper", "water-filter-jug",
    ];
    for (const productId of ids) {
      const { available, reserved } = await stockOf(productId);
      expect(available, productId).toBeGreaterThanOrEqual(0);
      expect(reserved, productId).toBeGreaterThanOrEqual(0);
    }
  });
});
