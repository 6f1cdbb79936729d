import { describe, expect, it } from "vitest";
import { cancelOrderRequestOf, idempotencyKeyOf, pageRequestOf, placeOrderRequestOf } from "../src/body.js";
import { DomainError } from "@bazaar/runtime/errors";

/** The error `parse` throws: the request is invalid, in the runtime's words (the HTTP edge makes it a 400). */
function refusal(parse: () => unknown): DomainError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe("invalid");
    return error as DomainError;
  }
  throw new Error("expected a DomainError");
}

const fieldsOf = (parse: () => unknown) => refusal(parse).fieldViolations.map((v) => v.field);

describe("placeOrderRequestOf", () => {
  it("reads snake_case names and adds the idempotency key", () => {
    const body = { customer_id: "cus_1", items: [{ product_id: "v60-dripper", quantity: 2 }], payment_token: "tok_visa" };
    expect(placeOrderRequestOf(body, "key-0001")).toEqual({
      customerId: "cus_1",
      items: [{ productId: "v60-dripper", quantity: 2 }],
      paymentToken: "tok_visa",
      idempotencyKey: "key-0001",
    });
  });

  it("reads lowerCamelCase names, as proto3 JSON allows", () => {
    const body = { customerId: "cus_1", items: [{ productId: "v60-dripper", quantity: 2 }], paymentToken: "tok_visa" };
    expect(placeOrderRequestOf(body, "k")).toMatchObject({ customerId: "cus_1", items: [{ productId: "v60-dripper" }], paymentToken: "tok_visa" });
  });

  it("leaves missing and null fields at their defaults for the service to judge, and ignores unknown ones", () => {
    expect(placeOrderRequestOf({ customer_id: null, surprise: { deep: true } }, "k")).toEqual({
      customerId: "",
      items: [],
      paymentToken: "",
      idempotencyKey: "k",
    });
    expect(placeOrderRequestOf({ items: [{}] }, "k").items).toEqual([{ productId: "", quantity: 0 }]);
  });

  it("does not re-check the service's rules: a quantity of 0 or -3 goes through", () => {
    expect(placeOrderRequestOf({ items: [{ product_id: "x", quantity: -3 }] }, "k").items[0]!.quantity).toBe(-3);
  });

  it("names every field of the wrong type at once, by its proto path", () => {
    const body = {
      customer_id: 7,
      items: [{ product_id: "ok", quantity: "two" }, { product_id: ["x"], quantity: 1.5 }, null, 3],
      payment_token: { number: "4242" },
    };
    expect(fieldsOf(() => placeOrderRequestOf(body, "k"))).toEqual([
      "customer_id",
      "items[0].quantity",
      "items[1].product_id",
      "items[1].quantity",
      "items[2]",
      "items[3]",
      "payment_token",
    ]);
  });

  it("refuses a quantity that int32 cannot hold, rather than letting protobuf wrap it", () => {
    expect(fieldsOf(() => placeOrderRequestOf({ items: [{ quantity: 2 ** 32 + 1 }] }, "k"))).toEqual(["items[0].quantity"]);
  });

  it("names items when it is not an array", () => {
    expect(fieldsOf(() => placeOrderRequestOf({ items: "v60-dripper" }, "k"))).toEqual(["items"]);
  });

  it.each([null, [], "order", 42])("refuses a body that is not an object: %j", (body) => {
    expect(refusal(() => placeOrderRequestOf(body, "k")).message).toBe("body must be a JSON object");
  });

  it("does not read through to Object.prototype", () => {
    const body = JSON.parse('{"__proto__": {"customer_id": 1}, "items": []}') as unknown;
    expect(placeOrderRequestOf(body, "k").customerId).toBe("");
  });
});

describe("cancelOrderRequestOf", () => {
  it("takes no body as no reason", () => {
    expect(cancelOrderRequestOf("ord_1", undefined)).toEqual({ orderId: "ord_1", reason: "" });
  });

  it("reads the reason", () => {
    expect(cancelOrderRequestOf("ord_1", { reason: "changed my mind" })).toEqual({ orderId: "ord_1", reason: "changed my mind" });
  });

  it("names reason when it is not a string", () => {
    expect(fieldsOf(() => cancelOrderRequestOf("ord_1", { reason: 1 }))).toEqual(["reason"]);
  });
});

describe("pageRequestOf", () => {
  const page = (query: string) => pageRequestOf(new URLSearchParams(query));

  it("defaults to page_size 0 (the service's default) and the first page", () => {
    expect(page("")).toEqual({ pageSize: 0, pageToken: "" });
    expect(page("page_size=")).toEqual({ pageSize: 0, pageToken: "" });
  });

  it("reads page_size and page_token, leaving ranges to the service", () => {
    expect(page("page_size=5&page_token=abc")).toEqual({ pageSize: 5, pageToken: "abc" });
    expect(page("page_size=-1").pageSize).toBe(-1);
    expect(page("page_size=500").pageSize).toBe(500);
  });

  it.each(["two", "2.5", "1e2", "0x10", "9999999999"])("names page_size for %j", (size) => {
    expect(fieldsOf(() => page(`page_size=${size}`))).toEqual(["page_size"]);
  });
});

describe("idempotencyKeyOf", () => {
  it("returns the header's key", () => {
    expect(idempotencyKeyOf("key-0001")).toBe("key-0001");
  });

  it.each([undefined, "", "   "])("refuses a missing key (%j), naming the header", (header) => {
    expect(refusal(() => idempotencyKeyOf(header)).message).toContain("Idempotency-Key");
  });
});
