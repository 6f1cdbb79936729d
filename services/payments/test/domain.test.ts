import { describe, expect, it } from "vitest";
import {
  type ChargeCommand,
  type ChargeOutcome,
  chargeResult,
  checkSameCharge,
  parseCharge,
  parseGetPayment,
  parseRefund,
  type Payment,
  refundAction,
} from "../src/domain.js";
import { MemoryCardLedger } from "../src/card-ledger.js";
import { ChargeVoided, SimulatedCardProvider, TEST_TOKENS } from "../src/provider.js";
import { domainErrorOf, violationsOf } from "@bazaar/runtime/testing";

const provider = new SimulatedCardProvider(new MemoryCardLedger(), 0);
const tokenProblem = (token: string) => provider.tokenProblem(token);

const validCharge = {
  idempotencyKey: "order-42-attempt-1",
  orderId: "ord_0123456789abcdef0123456789abcdef",
  customerId: "cust_42",
  amount: { currencyCode: "EUR", minorUnits: 1999 },
  paymentToken: "tok_visa",
};

const payment = (overrides: Partial<Payment> = {}): Payment => ({
  id: "pay_0123456789abcdef0123456789abcdef",
  idempotencyKey: validCharge.idempotencyKey,
  orderId: validCharge.orderId,
  customerId: validCharge.customerId,
  amount: { ...validCharge.amount },
  status: "CAPTURED",
  declineReason: "",
  refundReason: "",
  createdAt: new Date(0),
  updatedAt: new Date(0),
  ...overrides,
});

describe("parseCharge", () => {
  it("accepts a valid charge", () => {
    expect(parseCharge(validCharge, tokenProblem)).toEqual(validCharge);
  });

  it.each([1, 100_000_000])("accepts minor_units %d (the bounds)", (minorUnits) => {
    expect(parseCharge({ ...validCharge, amount: { currencyCode: "USD", minorUnits } }, tokenProblem).amount.minorUnits).toBe(
      minorUnits,
    );
  });

  it("names every missing field at once", () => {
    const empty = { idempotencyKey: "", orderId: "", customerId: "", amount: undefined, paymentToken: "" };
    expect(violationsOf(() => parseCharge(empty, tokenProblem))).toEqual([
      { field: "idempotency_key", description: "is required" },
      { field: "order_id", description: "is required" },
      { field: "customer_id", description: "is required" },
      { field: "amount", description: "is required" },
      { field: "payment_token", description: "is required" },
    ]);
  });

  it.each([
    ["idempotency_key", { idempotencyKey: "short" }],
    ["idempotency_key", { idempotencyKey: "has a space in it" }],
    ["order_id", { orderId: "order-42" }],
    ["order_id", { orderId: "pay_0123456789abcdef0123456789abcdef" }],
    ["customer_id", { customerId: "cust 42" }],
    ["amount.currency_code", { amount: { currencyCode: "eur", minorUnits: 100 } }],
    ["amount.currency_code", { amount: { currencyCode: "EURO", minorUnits: 100 } }],
    ["amount.currency_code", { amount: { currencyCode: "", minorUnits: 100 } }],
    ["amount.minor_units", { amount: { currencyCode: "EUR", minorUnits: 0 } }],
    ["amount.minor_units", { amount: { currencyCode: "EUR", minorUnits: -100 } }],
    ["amount.minor_units", { amount: { currencyCode: "EUR", minorUnits: 100_000_001 } }],
  ])("names %s", (field, overrides) => {
    expect(violationsOf(() => parseCharge({ ...validCharge, ...overrides }, tokenProblem)).map((v) => v.field)).toEqual([
      field,
    ]);
  });

  it("names both amount fields at once", () => {
    const amount = { currencyCode: "€", minorUnits: 0 };
    expect(violationsOf(() => parseCharge({ ...validCharge, amount }, tokenProblem)).map((v) => v.field)).toEqual([
      "amount.currency_code",
      "amount.minor_units",
    ]);
  });

  it("rejects an unknown token listing the test tokens, without echoing the token", () => {
    const error = domainErrorOf(() => parseCharge({ ...validCharge, paymentToken: "tok_live_SECRET4242" }, tokenProblem));
    expect(error.kind).toBe("invalid");
    const [violation] = error.fieldViolations;
    expect(violation!.field).toBe("payment_token");
    for (const token of Object.keys(TEST_TOKENS)) expect(violation!.description).toContain(token);
    expect(error.message).not.toContain("SECRET4242");
  });
});

describe("payment ids", () => {
  it("accepts a pay_ id", () => {
    expect(parseGetPayment({ paymentId: "pay_0123456789abcdef0123456789abcdef" })).toBe("pay_0123456789abcdef0123456789abcdef");
  });

  it.each(["", "pay_123", "ord_0123456789abcdef0123456789abcdef", "PAY_0123456789ABCDEF0123456789ABCDEF"])(
    "rejects %j naming payment_id",
    (paymentId) => {
      expect(violationsOf(() => parseGetPayment({ paymentId })).map((v) => v.field)).toEqual(["payment_id"]);
      expect(violationsOf(() => parseRefund({ paymentId, reason: "" })).map((v) => v.field)).toEqual(["payment_id"]);
    },
  );

  it("limits the refund reason", () => {
    const paymentId = "pay_0123456789abcdef0123456789abcdef";
    expect(parseRefund({ paymentId, reason: "r".repeat(500) }).reason).toHaveLength(500);
    expect(violationsOf(() => parseRefund({ paymentId, reason: "r".repeat(501) })).map((v) => v.field)).toEqual(["reason"]);
  });
});

describe("a repeated idempotency key", () => {
  const command: ChargeCommand = { ...validCharge };

  it("is the same charge whatever the token (the token is not stored)", () => {
    expect(() => checkSameCharge(payment(), { ...command, paymentToken: "tok_mastercard" })).not.toThrow();
  });

  it.each([
    ["order_id", { orderId: "ord_ffffffffffffffffffffffffffffffff" }],
    ["customer_id", { customerId: "someone-else" }],
    ["amount.currency_code", { amount: { currencyCode: "USD", minorUnits: 1999 } }],
    ["amount.minor_units", { amount: { currencyCode: "EUR", minorUnits: 2000 } }],
  ])("with another %s is FAILED_PRECONDITION", (field, overrides) => {
    const error = domainErrorOf(() => checkSameCharge(payment(), { ...command, ...overrides }));
    expect(error.kind).toBe("precondition-failed");
    expect(error.message).toContain(`idempotency_key ${command.idempotencyKey} was used for a different charge`);
    expect(error.message).toContain(field);
  });

  it("answers the first result: the payment, the same decline, or ABORTED while pending", () => {
    expect(chargeResult(payment())).toEqual(payment());
    expect(chargeResult(payment({ status: "REFUNDED" })).status).toBe("REFUNDED");

    const declined = domainErrorOf(() => chargeResult(payment({ status: "DECLINED", declineReason: "insufficient_funds" })));
    expect(declined.kind).toBe("precondition-failed");
    expect(declined.message).toBe("card declined: insufficient_funds");

    expect(domainErrorOf(() => chargeResult(payment({ status: "PENDING" }))).kind).toBe("conflict");
  });
});

describe("refunds", () => {
  it("refund a captured payment and do nothing to a refunded one", () => {
    expect(refundAction(payment({ status: "CAPTURED" }))).toBe("refund");
    expect(refundAction(payment({ status: "REFUNDED" }))).toBe("already-refunded");
  });

  it("refuse a declined payment and ask to retry a pending one", () => {
    expect(domainErrorOf(() => refundAction(payment({ status: "DECLINED", declineReason: "card_declined" }))).kind).toBe("precondition-failed");
    expect(domainErrorOf(() => refundAction(payment({ status: "PENDING" }))).kind).toBe("conflict");
  });
});

describe("the simulated card provider", () => {
  const amount = { currencyCode: "EUR", minorUnits: 100 };
  const never = new AbortController().signal;
  let charges = 0;
  const chargeId = () => `pay_test_${++charges}`;

  it.each([
    ["tok_visa", { approved: true }],
    ["tok_mastercard", { approved: true }],
    ["tok_declined", { approved: false, reason: "card_declined" }],
    ["tok_insufficient_funds", { approved: false, reason: "insufficient_funds" }],
  ])("answers %s with %j", async (token, outcome) => {
    expect(provider.tokenProblem(token)).toBeUndefined();
    expect(await provider.charge(chargeId(), token, amount, never)).toEqual(outcome);
  });

  it("knows no other token", () => {
    expect(provider.tokenProblem("tok_amex")).toContain("tok_visa");
    expect(provider.tokenProblem("")).toBeDefined();
    expect(provider.tokenProblem("toString")).toBeDefined();
  });

  it("charges once per charge id: asked again, it answers the first outcome", async () => {
    const id = chargeId();
    expect(await provider.charge(id, "tok_visa", amount, never)).toEqual({ approved: true });
    expect(await provider.charge(id, "tok_declined", amount, never)).toEqual({ approved: true });
    expect(await provider.resolve(id)).toEqual({ approved: true });
  });

  it("resolves a charge it never made as none, and refuses that charge id from then on", async () => {
    const id = chargeId();
    expect(await provider.resolve(id)).toBeUndefined();
    await expect(provider.charge(id, "tok_visa", amount, never)).rejects.toBeInstanceOf(ChargeVoided);
    expect(await provider.resolve(id)).toBeUndefined();
  });

  it("can lose the answer of a charge it made: an abort after the money moved rejects, and resolve tells the outcome", async () => {
    const controller = new AbortController();
    // The network's books abort the caller right after recording: the answer is on its way back.
    const ledger = new MemoryCardLedger();
    const record = ledger.record.bind(ledger);
    ledger.record = async (id: string, outcome: ChargeOutcome) => {
      const recorded = await record(id, outcome);
      controller.abort(new Error("deadline"));
      return recorded;
    };
    const slow = new SimulatedCardProvider(ledger, 10);
    await expect(slow.charge("pay_lost", "tok_visa", amount, controller.signal)).rejects.toThrow("deadline");
    expect(await slow.resolve("pay_lost")).toEqual({ approved: true });
  });

  it("never answers tok_timeout, nor records it: the charge ends only when its signal aborts, with the signal's reason", async () => {
    const controller = new AbortController();
    const id = chargeId();
    const hanging = provider.charge(id, "tok_timeout", amount, controller.signal);
    // Another charge completes while tok_timeout is still waiting.
    const first = await Promise.race([
      hanging.then(() => "tok_timeout"),
      provider.charge(chargeId(), "tok_visa", amount, never).then(() => "tok_visa"),
    ]);
    expect(first).toBe("tok_visa");
    const reason = new Error("client went away");
    controller.abort(reason);
    await expect(hanging).rejects.toBe(reason);
    expect(await provider.resolve(id)).toBeUndefined();
  });

  it("stops waiting for a slow answer when the signal aborts, and refuses an aborted signal at once", async () => {
    const slow = new SimulatedCardProvider(new MemoryCardLedger(), 3_600_000);
    const controller = new AbortController();
    const charging = slow.charge(chargeId(), "tok_visa", amount, controller.signal);
    controller.abort(new Error("deadline"));
    await expect(charging).rejects.toThrow("deadline");
    await expect(slow.charge(chargeId(), "tok_visa", amount, AbortSignal.abort(new Error("already")))).rejects.toThrow("already");
  });
});
