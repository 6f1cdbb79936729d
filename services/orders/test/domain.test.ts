import { DomainError } from "@bazaar/runtime/errors";
import { encodePageToken } from "@bazaar/runtime/pagination";
import { describe, expect, it } from "vitest";
import {
  cancelAction,
  MAX_LINES,
  type Order,
  type OrderStatus,
  parseCancelOrder,
  parseListOrders,
  parseOrderId,
  parsePlaceOrder,
  type PlaceOrderCommand,
  priceOrder,
  requestDigest,
} from "../src/domain.js";
import { violationsOf } from "@bazaar/runtime/testing";

// Orders' rules without I/O: validation, pricing, idempotency fingerprints,
// transitions, and how a dependency's failure becomes orders' answer.

const fieldsOf = (run: () => unknown) => violationsOf(run).map((violation) => violation.field);

const validCommand = (): PlaceOrderCommand => ({
  customerId: "alice",
  items: [
    { productId: "v60-dripper", quantity: 2 },
    { productId: "aeropress-original", quantity: 1 },
  ],
  paymentToken: "tok_visa",
  idempotencyKey: "key-0001-abcdef",
});

const eur = (minorUnits: number) => ({ currencyCode: "EUR", minorUnits });

const order = (orderStatus: OrderStatus): Order => ({
  id: "ord_0123456789abcdef0123456789abcdef",
  customerId: "alice",
  status: orderStatus,
  statusReason: "",
  failureKind: undefined,
  lines: [],
  total: undefined,
  paymentId: "",
  requestDigest: "",
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

describe("parsePlaceOrder", () => {
  it("accepts a valid order", () => {
    expect(parsePlaceOrder(validCommand())).toEqual(validCommand());
  });

  it("names every bad field at once", () => {
    const fields = fieldsOf(() =>
      parsePlaceOrder({
        customerId: "",
        items: [
          { productId: "NOT A SLUG", quantity: 0 },
          { productId: "v60-dripper", quantity: 101 },
        ],
        paymentToken: "",
        idempotencyKey: "short",
      }),
    );
    expect(fields).toEqual(["customer_id", "items[0].product_id", "items[0].quantity", "items[1].quantity", "payment_token", "idempotency_key"]);
  });

  it.each([
    ["empty", "", "is required"],
    ["not allowed characters", "alice smith", "must be 1-64"],
    ["too long", "a".repeat(65), "must be 1-64"],
  ])("rejects a customer_id that is %s", (_what, customerId, description) => {
    expect(violationsOf(() => parsePlaceOrder({ ...validCommand(), customerId }))).toEqual([
      { field: "customer_id", description: expect.stringContaining(description) },
    ]);
  });

  it("requires at least one item", () => {
    expect(violationsOf(() => parsePlaceOrder({ ...validCommand(), items: [] }))).toEqual([
      { field: "items", description: expect.stringContaining("at least one") },
    ]);
  });

  it(`allows at most ${MAX_LINES} items`, () => {
    const items = Array.from({ length: MAX_LINES + 1 }, (_, index) => ({ productId: `product-${index}`, quantity: 1 }));
    expect(fieldsOf(() => parsePlaceOrder({ ...validCommand(), items }))).toEqual(["items"]);
    expect(() => parsePlaceOrder({ ...validCommand(), items: items.slice(0, MAX_LINES) })).not.toThrow();
  });

  it.each([
    ["", "is required"],
    ["ab", "must be 3-64"],
    ["Espresso", "must be 3-64"],
    ["'; drop table orders; --", "must be 3-64"],
  ])("names the bad product_id %j by its index", (productId, description) => {
    const items = [{ productId: "v60-dripper", quantity: 1 }, { productId, quantity: 1 }];
    expect(violationsOf(() => parsePlaceOrder({ ...validCommand(), items }))).toEqual([
      { field: "items[1].product_id", description: expect.stringContaining(description) },
    ]);
  });

  it("refuses the same product twice, naming the repeat", () => {
    const items = [
      { productId: "v60-dripper", quantity: 1 },
      { productId: "chemex-6-cup", quantity: 1 },
      { productId: "v60-dripper", quantity: 2 },
    ];
    expect(violationsOf(() => parsePlaceOrder({ ...validCommand(), items }))).toEqual([
      { field: "items[2].product_id", description: expect.stringContaining("appears twice") },
    ]);
  });

  it.each([0, -1, 101, 1.5, 2 ** 31 - 1])("rejects quantity %d", (quantity) => {
    const items = [{ productId: "v60-dripper", quantity }];
    expect(violationsOf(() => parsePlaceOrder({ ...validCommand(), items }))).toEqual([
      { field: "items[0].quantity", description: "must be between 1 and 100" },
    ]);
  });

  it.each([1, 100])("accepts quantity %d", (quantity) => {
    expect(() => parsePlaceOrder({ ...validCommand(), items: [{ productId: "v60-dripper", quantity }] })).not.toThrow();
  });

  it.each([
    ["", "is required"],
    ["t".repeat(65), "at most 64"],
  ])("rejects payment_token %j", (paymentToken, description) => {
    expect(violationsOf(() => parsePlaceOrder({ ...validCommand(), paymentToken }))).toEqual([
      { field: "payment_token", description: expect.stringContaining(description) },
    ]);
  });

  it.each([
    ["", "is required"],
    ["1234567", "8-128"],
    ["has a space", "8-128"],
    ["k".repeat(129), "8-128"],
  ])("rejects idempotency_key %j", (idempotencyKey, description) => {
    expect(violationsOf(() => parsePlaceOrder({ ...validCommand(), idempotencyKey }))).toEqual([
      { field: "idempotency_key", description: expect.stringContaining(description) },
    ]);
  });
});

describe("requestDigest", () => {
  it("is stable for the same request", () => {
    expect(requestDigest(validCommand())).toBe(requestDigest(validCommand()));
    expect(requestDigest(validCommand())).toMatch(/^[0-9a-f]{64}$/);
  });

  it("does not depend on the idempotency key, which is how a retry is found", () => {
    expect(requestDigest({ ...validCommand(), idempotencyKey: "another-key-123" })).toBe(requestDigest(validCommand()));
  });

  it.each<[string, (command: PlaceOrderCommand) => PlaceOrderCommand]>([
    ["customer_id", (c) => ({ ...c, customerId: "bob" })],
    ["a product", (c) => ({ ...c, items: [{ productId: "chemex-6-cup", quantity: 2 }, c.items[1]!] })],
    ["a quantity", (c) => ({ ...c, items: [{ productId: "v60-dripper", quantity: 3 }, c.items[1]!] })],
    ["an extra item", (c) => ({ ...c, items: [...c.items, { productId: "chemex-6-cup", quantity: 1 }] })],
    ["a missing item", (c) => ({ ...c, items: c.items.slice(0, 1) })],
    ["the payment token", (c) => ({ ...c, paymentToken: "tok_mastercard" })],
  ])("changes with %s", (_what, change) => {
    expect(requestDigest(change(validCommand()))).not.toBe(requestDigest(validCommand()));
  });

  it("cannot be fooled by field values that run into each other", () => {
    const a = { ...validCommand(), customerId: "ab", paymentToken: "c" };
    const b = { ...validCommand(), customerId: "a", paymentToken: "bc" };
    expect(requestDigest(a)).not.toBe(requestDigest(b));
  });
});

describe("priceOrder", () => {
  const products = [
    { id: "v60-dripper", name: "Hario V60 Dripper", price: eur(2250) },
    { id: "aeropress-original", name: "AeroPress Original", price: eur(3999) },
    { id: "chemex-6-cup", name: "Chemex 6-Cup", price: eur(4800) },
  ];

  it("prices each line at the catalog's price and totals quantity × price in integer minor units", () => {
    const { lines, total } = priceOrder(
      [
        { productId: "v60-dripper", quantity: 3 },
        { productId: "chemex-6-cup", quantity: 1 },
        { productId: "aeropress-original", quantity: 2 },
      ],
      products,
    );
    expect(lines).toEqual([
      { productId: "v60-dripper", productName: "Hario V60 Dripper", quantity: 3, unitPrice: eur(2250) },
      { productId: "chemex-6-cup", productName: "Chemex 6-Cup", quantity: 1, unitPrice: eur(4800) },
      { productId: "aeropress-original", productName: "AeroPress Original", quantity: 2, unitPrice: eur(3999) },
    ]);
    expect(total).toEqual(eur(3 * 2250 + 4800 + 2 * 3999));
    expect(Number.isInteger(total.minorUnits)).toBe(true);
  });

  it("keeps cents exact where floats would not (0.1 + 0.2)", () => {
    const cheap = [
      { id: "sticker-a", name: "A", price: eur(10) },
      { id: "sticker-b", name: "B", price: eur(20) },
    ];
    const { total } = priceOrder(
      [
        { productId: "sticker-a", quantity: 1 },
        { productId: "sticker-b", quantity: 1 },
      ],
      cheap,
    );
    expect(total).toEqual(eur(30));
  });

  it("refuses an order priced in several currencies with FAILED_PRECONDITION", () => {
    const mixed = [...products, { id: "kettle-usd", name: "Kettle", price: { currencyCode: "USD", minorUnits: 5000 } }];
    let thrown: unknown;
    try {
      priceOrder(
        [
          { productId: "v60-dripper", quantity: 1 },
          { productId: "kettle-usd", quantity: 1 },
        ],
        mixed,
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect((thrown as DomainError).kind).toBe("precondition-failed");
    expect((thrown as DomainError).message).toMatch(/EUR.*USD/);
  });
});

describe("cancelAction", () => {
  it("cancels a confirmed order", () => {
    expect(cancelAction(order("CONFIRMED"))).toBe("cancel");
  });

  it("treats a cancelled order as already done", () => {
    expect(cancelAction(order("CANCELLED"))).toBe("already-cancelled");
  });

  it.each<[OrderStatus, RegExp]>([
    ["REJECTED", /rejected/],
    ["PENDING", /still being placed/],
  ])("refuses to cancel a %s order: precondition failed", (orderStatus, message) => {
    expect(() => cancelAction(order(orderStatus))).toThrow(message);
    try {
      cancelAction(order(orderStatus));
    } catch (error) {
      expect((error as DomainError).kind).toBe("precondition-failed");
    }
  });
});

describe("order ids, cancel and list requests", () => {
  it("accepts an order id and names a bad one", () => {
    expect(parseOrderId({ orderId: "ord_0123456789abcdef0123456789abcdef" })).toBe("ord_0123456789abcdef0123456789abcdef");
    expect(fieldsOf(() => parseOrderId({ orderId: "" }))).toEqual(["order_id"]);
    expect(fieldsOf(() => parseOrderId({ orderId: "pay_0123456789abcdef0123456789abcdef" }))).toEqual(["order_id"]);
  });

  it("gives a cancellation a default reason and limits its length", () => {
    expect(parseCancelOrder({ orderId: "ord_0123456789abcdef0123456789abcdef", reason: "" }).reason).toBe("cancelled by the customer");
    expect(fieldsOf(() => parseCancelOrder({ orderId: "nope", reason: "r".repeat(501) }))).toEqual(["order_id", "reason"]);
  });

  it("reads a list request and names every bad field", () => {
    expect(parseListOrders({ customerId: "alice", pageSize: 0, pageToken: "" })).toEqual({ customerId: "alice", pageSize: 20, after: undefined });
    expect(fieldsOf(() => parseListOrders({ customerId: "", pageSize: 101, pageToken: "garbage" }))).toEqual([
      "customer_id",
      "page_size",
      "page_token",
    ]);
  });

  it("reads back the cursor of a page token it issued, to the microsecond", () => {
    const after = { createdAt: "2026-01-02T03:04:05.123456Z", id: "ord_0123456789abcdef0123456789abcdef" };
    expect(parseListOrders({ customerId: "alice", pageSize: 2, pageToken: encodePageToken(after) }).after).toEqual(after);
  });

  it.each(["yesterday", "", "2026-02-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z", "2026-01-01 00:00:00+00"])(
    "refuses a page token whose timestamp %j PostgreSQL would not take (INVALID_ARGUMENT, not INTERNAL)",
    (createdAt) => {
      const forged = encodePageToken({ createdAt, id: "ord_0123456789abcdef0123456789abcdef" });
      expect(fieldsOf(() => parseListOrders({ customerId: "alice", pageSize: 2, pageToken: forged }))).toEqual(["page_token"]);
    },
  );
});
