import { describe, expect, it } from "vitest";
import {
  formatMoney,
  type Notification,
  orderCancelled,
  orderConfirmed,
  orderRejected,
  parseListNotifications,
  paymentRefunded,
  toPage,
} from "../src/domain.js";
import { violationsOf } from "@bazaar/runtime/testing";

const ORDER = "ord_0123456789abcdef0123456789abcdef";

describe("money", () => {
  it.each([
    [{ currencyCode: "EUR", minorUnits: 7998 }, "EUR 79.98"],
    [{ currencyCode: "EUR", minorUnits: 0 }, "EUR 0.00"],
    [{ currencyCode: "EUR", minorUnits: 5 }, "EUR 0.05"],
    [{ currencyCode: "EUR", minorUnits: 90 }, "EUR 0.90"],
    [{ currencyCode: "EUR", minorUnits: 189900 }, "EUR 1,899.00"],
    [{ currencyCode: "USD", minorUnits: 123456789 }, "USD 1,234,567.89"],
    [{ currencyCode: "EUR", minorUnits: -250 }, "EUR -2.50"],
    [{ currencyCode: "JPY", minorUnits: 1500 }, "JPY 1,500"],
    [{ currencyCode: "KWD", minorUnits: 1234 }, "KWD 1.234"],
    [{ currencyCode: "EUR", minorUnits: 9_007_199_254_740_991 }, "EUR 90,071,992,547,409.91"],
  ])("formats %j as %s, without floats", (money, text) => {
    expect(formatMoney(money)).toBe(text);
  });
});

describe("wording", () => {
  const line = (quantity: number) => ({ quantity });

  it("confirms an order with its item count and total", () => {
    expect(
      orderConfirmed({ orderId: ORDER, customerId: "alice", lines: [line(2)], total: { currencyCode: "EUR", minorUnits: 7998 } }),
    ).toEqual({
      customerId: "alice",
      orderId: ORDER,
      kind: "ORDER_CONFIRMED",
      message: `Your order ${ORDER} is confirmed: 2 items, total EUR 79.98.`,
    });
  });

  it("counts quantities across lines, and says 1 item", () => {
    const total = { currencyCode: "EUR", minorUnits: 100 };
    expect(orderConfirmed({ orderId: ORDER, customerId: "a", lines: [line(2), line(3)], total }).message).toContain(": 5 items,");
    expect(orderConfirmed({ orderId: ORDER, customerId: "a", lines: [line(1)], total }).message).toContain(": 1 item,");
  });

  it("still confirms an order whose event lacks a total", () => {
    expect(orderConfirmed({ orderId: ORDER, customerId: "a", lines: [line(1)], total: undefined }).message).toBe(
      `Your order ${ORDER} is confirmed: 1 item.`,
    );
  });

  it("tells why an order was rejected", () => {
    expect(orderRejected({ orderId: ORDER, customerId: "bob", reason: "out of stock: v60-dripper" })).toEqual({
      customerId: "bob",
      orderId: ORDER,
      kind: "ORDER_REJECTED",
      message: `Your order ${ORDER} could not be placed: out of stock: v60-dripper.`,
    });
  });

  it("ends a sentence once, reason or not", () => {
    expect(orderRejected({ orderId: ORDER, customerId: "b", reason: " card declined. " }).message).toBe(
      `Your order ${ORDER} could not be placed: card declined.`,
    );
    expect(orderRejected({ orderId: ORDER, customerId: "b", reason: "" }).message).toBe(`Your order ${ORDER} could not be placed.`);
  });

  it("tells that an order was cancelled", () => {
    expect(orderCancelled({ orderId: ORDER, customerId: "carol", reason: "" })).toEqual({
      customerId: "carol",
      orderId: ORDER,
      kind: "ORDER_CANCELLED",
      message: `Your order ${ORDER} has been cancelled.`,
    });
    expect(orderCancelled({ orderId: ORDER, customerId: "carol", reason: "changed my mind" }).message).toBe(
      `Your order ${ORDER} has been cancelled: changed my mind.`,
    );
  });

  it("tells the refunded amount", () => {
    expect(paymentRefunded({ orderId: ORDER, customerId: "dave", amount: { currencyCode: "EUR", minorUnits: 4950 } })).toEqual({
      customerId: "dave",
      orderId: ORDER,
      kind: "PAYMENT_REFUNDED",
      message: `Your refund of EUR 49.50 for order ${ORDER} is on its way.`,
    });
    expect(paymentRefunded({ orderId: ORDER, customerId: "dave", amount: undefined }).message).toBe(
      `Your refund for order ${ORDER} is on its way.`,
    );
  });
});

describe("list paging", () => {
  const notification = (id: string, createdAt: string): Notification => ({
    id,
    customerId: "alice",
    orderId: ORDER,
    kind: "ORDER_CONFIRMED",
    message: "",
    sourceEventId: `evt_${id}`,
    createdAt: new Date(createdAt),
  });

  it("defaults page_size 0 to 20 and starts with the newest", () => {
    expect(parseListNotifications({ customerId: "alice", pageSize: 0, pageToken: "" })).toEqual({
      customerId: "alice",
      pageSize: 20,
      before: undefined,
    });
  });

  it.each([
    ["", "is required"],
    ["has space", "must be 1-64"],
    ["x".repeat(65), "must be 1-64"],
  ])("rejects customer_id %j naming the field", (customerId, description) => {
    const [violation] = violationsOf(() => parseListNotifications({ customerId, pageSize: 0, pageToken: "" }));
    expect(violation).toEqual({ field: "customer_id", description: expect.stringContaining(description) });
  });

  it.each([-1, 101, 2.5])("rejects page_size %d", (pageSize) => {
    expect(violationsOf(() => parseListNotifications({ customerId: "alice", pageSize, pageToken: "" }))[0]!.field).toBe("page_size");
  });

  it.each([
    "garbage!",
    Buffer.from('{"after":"x"}').toString("base64url"),
    Buffer.from('{"createdAt":"not a time","id":"ntf_1"}').toString("base64url"),
    Buffer.from('{"createdAt":1,"id":"ntf_1"}').toString("base64url"),
  ])("rejects a page_token it did not issue: %s", (pageToken) => {
    const violations = violationsOf(() => parseListNotifications({ customerId: "alice", pageSize: 5, pageToken }));
    expect(violations.map((v) => v.field)).toEqual(["page_token"]);
  });

  it("reports every bad field at once", () => {
    expect(violationsOf(() => parseListNotifications({ customerId: "", pageSize: 500, pageToken: "%%%" })).map((v) => v.field)).toEqual([
      "customer_id",
      "page_size",
      "page_token",
    ]);
  });

  it("round-trips the position of a full page's last row and ends without a token", () => {
    const rows = [
      notification("ntf_c", "2030-01-01T00:00:00.003Z"),
      notification("ntf_b", "2030-01-01T00:00:00.002Z"),
      notification("ntf_a", "2030-01-01T00:00:00.002Z"),
    ];
    const first = toPage(rows, 2);
    expect(first.notifications.map((n) => n.id)).toEqual(["ntf_c", "ntf_b"]);
    expect(parseListNotifications({ customerId: "alice", pageSize: 2, pageToken: first.nextPageToken }).before).toEqual({
      createdAt: new Date("2030-01-01T00:00:00.002Z"),
      id: "ntf_b",
    });
    expect(toPage(rows.slice(2), 2)).toEqual({ notifications: [rows[2]], nextPageToken: "" });
    expect(toPage(rows.slice(0, 2), 2).nextPageToken).toBe("");
  });
});
