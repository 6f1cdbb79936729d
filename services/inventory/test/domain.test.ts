import { newId } from "@bazaar/runtime/ids";
import { describe, expect, it } from "vitest";
import {
  commitEffect,
  inLockOrder,
  outOfStockMessage,
  parseGetStock,
  parseOrderId,
  parseReserveStock,
  releaseEffect,
  type Reservation,
  reserveAgain,
} from "../src/domain.js";
import { domainErrorOf, violationsOf } from "@bazaar/runtime/testing";

const orderId = newId("ord");
const line = (productId: string, quantity = 1) => ({ productId, quantity });
const reservation = (state: Reservation["state"]): Reservation => ({ orderId, lines: [line("v60-dripper", 2)], state });

describe("GetStock request", () => {
  it("accepts a product id", () => {
    expect(parseGetStock({ productId: "espresso-machine" })).toBe("espresso-machine");
  });

  it.each([
    ["", "is required"],
    ["Espresso Machine", "must be 3-64"],
  ])("rejects %j naming product_id", (productId, description) => {
    expect(violationsOf(() => parseGetStock({ productId }))).toEqual([
      { field: "product_id", description: expect.stringContaining(description) },
    ]);
  });
});

describe("order ids", () => {
  it("accepts ord_ and 32 hex digits", () => {
    expect(parseOrderId({ orderId })).toBe(orderId);
  });

  it.each(["", "ord_123", "pay_" + "a".repeat(32), "ord_" + "A".repeat(32), "ord_" + "a".repeat(33)])(
    "rejects %j naming order_id",
    (bad) => {
      expect(violationsOf(() => parseOrderId({ orderId: bad })).map((v) => v.field)).toEqual(["order_id"]);
    },
  );
});

describe("ReserveStock request", () => {
  it("accepts up to 50 distinct lines of 1-100 units, keeping their order", () => {
    const lines = [line("v60-dripper", 100), line("aeropress-original", 1)];
    expect(parseReserveStock({ orderId, lines })).toEqual({ orderId, lines });
    const fifty = Array.from({ length: 50 }, (_, i) => line(`product-${i}`));
    expect(parseReserveStock({ orderId, lines: fifty }).lines).toHaveLength(50);
  });

  it("names every bad field at once", () => {
    const lines = [line("v60-dripper", 0), line("NOPE", 101), line("", -1), line("chemex-6-cup", 1.5)];
    expect(violationsOf(() => parseReserveStock({ orderId: "order-1", lines })).map((v) => v.field)).toEqual([
      "order_id",
      "lines[0].quantity",
      "lines[1].product_id",
      "lines[1].quantity",
      "lines[2].product_id",
      "lines[2].quantity",
      "lines[3].quantity",
    ]);
  });

  it("blames a repeated product on its later line", () => {
    const lines = [line("v60-dripper"), line("chemex-6-cup"), line("v60-dripper")];
    expect(violationsOf(() => parseReserveStock({ orderId, lines }))).toEqual([
      { field: "lines[2].product_id", description: expect.stringContaining("repeats lines[0].product_id") },
    ]);
  });

  it("rejects no lines and more than 50 lines naming lines", () => {
    expect(violationsOf(() => parseReserveStock({ orderId, lines: [] })).map((v) => v.field)).toEqual(["lines"]);
    const many = Array.from({ length: 51 }, () => line("BAD ID", 0));
    expect(violationsOf(() => parseReserveStock({ orderId, lines: many }))).toEqual([
      { field: "lines", description: "at most 50 lines per reservation" },
    ]);
  });
});

describe("stock rules", () => {
  it("orders lines by product id, so transactions lock stock rows in one order", () => {
    const lines = [line("v60-dripper"), line("aeropress-original"), line("chemex-6-cup")];
    expect(inLockOrder(lines).map((l) => l.productId)).toEqual(["aeropress-original", "chemex-6-cup", "v60-dripper"]);
    expect(lines[0]!.productId).toBe("v60-dripper");
  });

  it("says what is short and by how much", () => {
    expect(outOfStockMessage("cold-brew-tower", 1, 2)).toBe("out of stock: cold-brew-tower (available 1, requested 2)");
  });
});

describe("reservation transitions", () => {
  it("answers a repeated reserve with the existing reservation unless it was released", () => {
    expect(reserveAgain(reservation("HELD"))).toEqual(reservation("HELD"));
    expect(reserveAgain(reservation("COMMITTED"))).toEqual(reservation("COMMITTED"));
    const error = domainErrorOf(() => reserveAgain(reservation("RELEASED")));
    expect(error.kind).toBe("precondition-failed");
    expect(error.message).toBe(`reservation for order ${orderId} was released`);
  });

  it("releases held units, restocks sold ones, and releases once", () => {
    expect(releaseEffect("HELD")).toBe("return-held-units");
    expect(releaseEffect("COMMITTED")).toBe("restock-sold-units");
    expect(releaseEffect("RELEASED")).toBe("none");
  });

  it("commits held units once and never a released reservation", () => {
    expect(commitEffect(reservation("HELD"))).toBe("take-held-units");
    expect(commitEffect(reservation("COMMITTED"))).toBe("none");
    expect(domainErrorOf(() => commitEffect(reservation("RELEASED"))).kind).toBe("precondition-failed");
  });
});
