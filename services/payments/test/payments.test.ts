import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { status, type ServiceError } from "@grpc/grpc-js";
import { PaymentRefunded } from "@bazaar/gen/bazaar/payments/v1/events";
import { type ChargeRequest, PaymentServiceService, PaymentStatus } from "@bazaar/gen/bazaar/payments/v1/payments";
import { type Database } from "@bazaar/runtime/db/database";
import { events } from "@bazaar/shop/events";
import { Outbox } from "@bazaar/runtime/events/outbox";
import { fieldViolationsOf } from "@bazaar/runtime/grpc/status";
import { applyOnce } from "@bazaar/runtime/events/consumer";
import { createClient, hasStatus, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { newId } from "@bazaar/runtime/ids";
import { type Implementation, type ServiceDeps } from "@bazaar/runtime/service";
import { failureOf, startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refundPayment } from "../src/refund.js";
import { paymentEventHandlers } from "../src/events.js";
import { type CardProvider } from "../src/provider.js";
import { paymentService, paymentServiceWith } from "../src/service.js";
import { findPaymentOfOrder, insertPendingPayment, migrationsDir, settleUnlessGivenUp } from "../src/store.js";

// Payments as clients see it: real gRPC on a free port, real migrations on an
// database of its own on the test cluster (PostgreSQL), the simulated card provider. The test also
// keeps the service's database handle, to count rows and to drive the refund
// path the OrderCancelled consumer will use.

let service: Awaited<ReturnType<typeof startTestService>>;
let payments: PromiseClient<typeof PaymentServiceService>;
let db: Database;

/** The real payments service, handing its database to the test when the runtime opens it. */
const observed: Implementation = {
  ...paymentService,
  create: (deps) => {
    db = deps.db;
    return paymentService.create(deps);
  },
};

beforeAll(async () => {
  service = await startTestService("payments", { migrationsDir, services: [observed] });
  payments = createClient(PaymentServiceService, service.address, { deadlineMs: 5000 });
});
afterAll(async () => {
  payments?.close();
  await service?.stop();
});

/** What a well-behaved client does with ABORTED ("in progress; retry"): back off a little and try again. */
async function retryWhileAborted<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!hasStatus(error, status.ABORTED) || attempt === 100) throw error;
      await sleep(50);
    }
  }
}

const chargeRequest = (overrides: Partial<ChargeRequest> = {}): ChargeRequest => ({
  idempotencyKey: `key-${randomUUID()}`,
  orderId: newId("ord"),
  customerId: "cust_42",
  amount: { currencyCode: "EUR", minorUnits: 1999 },
  paymentToken: "tok_visa",
  ...overrides,
});

async function rowsWithKey(idempotencyKey: string): Promise<Array<{ id: string; status: string }>> {
  return db.query("select id, status from payments where idempotency_key = $1", [idempotencyKey]);
}

describe("Charge", () => {
  it.each(["tok_visa", "tok_mastercard"])("captures with %s", async (paymentToken) => {
    const request = chargeRequest({ paymentToken });
    const { payment } = await payments.charge(request);
    expect(payment).toMatchObject({
      orderId: request.orderId,
      customerId: "cust_42",
      amount: { currencyCode: "EUR", minorUnits: 1999 },
      status: PaymentStatus.PAYMENT_STATUS_CAPTURED,
      declineReason: "",
    });
    expect(payment!.id).toMatch(/^pay_[0-9a-f]{32}$/);
    expect(payment!.createdAt).toBeInstanceOf(Date);
    expect((await payments.getPayment({ paymentId: payment!.id })).payment).toEqual(payment);
  });

  it.each([
    ["tok_declined", "card_declined"],
    ["tok_insufficient_funds", "insufficient_funds"],
  ])("stores a decline by %s and answers it again for the same key", async (paymentToken, reason) => {
    const request = chargeRequest({ paymentToken });
    const error = await failureOf(payments.charge(request));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toBe(`card declined: ${reason}`);

    const rows = await rowsWithKey(request.idempotencyKey);
    expect(rows).toEqual([{ id: expect.stringMatching(/^pay_/), status: "DECLINED" }]);
    const { payment } = await payments.getPayment({ paymentId: rows[0]!.id });
    expect(payment).toMatchObject({ status: PaymentStatus.PAYMENT_STATUS_DECLINED, declineReason: reason });

    // The first result is final for its key, even with a card that would be approved.
    for (const retry of [request, { ...request, paymentToken: "tok_visa" }]) {
      const again = await failureOf(payments.charge(retry));
      expect({ code: again.code, details: again.details }).toEqual({ code: error.code, details: error.details });
    }
    expect(await rowsWithKey(request.idempotencyKey)).toEqual(rows);
  });

  it("moves money once for the same key: one row, the same payment", async () => {
    const request = chargeRequest();
    const first = await payments.charge(request);
    const second = await payments.charge(request);
    expect(second).toEqual(first);
    expect(await rowsWithKey(request.idempotencyKey)).toHaveLength(1);
  });

  it.each([
    ["amount.minor_units", { amount: { currencyCode: "EUR", minorUnits: 2000 } }],
    ["amount.currency_code", { amount: { currencyCode: "USD", minorUnits: 1999 } }],
    ["order_id", { orderId: newId("ord") }],
    ["customer_id", { customerId: "cust_43" }],
  ])("refuses a key reused with another %s", async (field, change) => {
    const request = chargeRequest();
    await payments.charge(request);
    const error = await failureOf(payments.charge({ ...request, ...change }));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toContain(`idempotency_key ${request.idempotencyKey} was used for a different charge`);
    expect(error.details).toContain(field);
    expect(await rowsWithKey(request.idempotencyKey)).toHaveLength(1);
  });

  it("charges calls with their own keys made at once each once, each answered with its own payment", async () => {
    const requests = Array.from({ length: 12 }, (_, index) => chargeRequest({ amount: { currencyCode: "EUR", minorUnits: 100 + index } }));
    const answers = await Promise.all(requests.map((request) => payments.charge(request)));
    answers.forEach(({ payment }, index) => {
      expect(payment, `call ${index}`).toMatchObject({ orderId: requests[index]!.orderId, amount: requests[index]!.amount, status: PaymentStatus.PAYMENT_STATUS_CAPTURED });
    });
    expect(new Set(answers.map(({ payment }) => payment!.id)).size).toBe(12);
    for (const [index, request] of requests.entries()) expect(await rowsWithKey(request.idempotencyKey)).toEqual([{ id: answers[index]!.payment!.id, status: "CAPTURED" }]);
  });

  it("lets concurrent duplicates agree on one payment: the same one, or ABORTED to retry", async () => {
    const request = chargeRequest();
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => payments.charge(request)));

    const ids = new Set(results.flatMap((r) => (r.status === "fulfilled" ? [r.value.payment!.id] : [])));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as ServiceError] : []));
    expect(ids.size).toBe(1);
    expect(failures.map((e) => e.code).filter((code) => code !== status.ABORTED)).toEqual([]);
    expect(failures.every((e) => e.details === "a charge with this key is in progress; retry")).toBe(true);

    const rows = await rowsWithKey(request.idempotencyKey);
    expect(rows).toEqual([{ id: [...ids][0], status: "CAPTURED" }]);
    // An ABORTED caller's retry gets the payment the winner made.
    expect((await payments.charge(request)).payment!.id).toBe([...ids][0]);
  });

  it("forgets a charge whose client gave up (tok_timeout past the deadline), so a retry with the key can charge", async () => {
    const request = chargeRequest({ paymentToken: "tok_timeout" });
    const error = await failureOf(payments.charge(request, { deadlineMs: 300 }));
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);

    // Nothing was charged; the key stays bound to its order, customer and amount, but not to the card.
    const { payment } = await retryWhileAborted(() => payments.charge({ ...request, paymentToken: "tok_visa" }));
    expect(payment!.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);
    expect(await rowsWithKey(request.idempotencyKey)).toEqual([{ id: payment!.id, status: "CAPTURED" }]);
  });

  it("forgets a charge the client cancelled", async () => {
    const request = chargeRequest({ paymentToken: "tok_timeout" });
    const controller = new AbortController();
    const charging = failureOf(payments.charge(request, { signal: controller.signal }));
    // Cancel once the server has claimed the key, so the cancellation reaches a charge in progress.
    await retryUntil(async () => (await rowsWithKey(request.idempotencyKey)).length === 1);
    controller.abort();
    expect((await charging).code).toBe(status.CANCELLED);

    const { payment } = await retryWhileAborted(() => payments.charge({ ...request, paymentToken: "tok_mastercard" }));
    expect(payment!.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);
  });

  it("answers ABORTED for a key whose charge is in progress, and takes over one a dead process left behind", async () => {
    const request = chargeRequest();
    const pendingId = newId("pay");
    const insertPending = (age: string) =>
      db.query(
        `insert into payments (id, idempotency_key, order_id, customer_id, amount_minor, currency_code, status, updated_at)
         values ($1, $2, $3, $4, $5, $6, 'PENDING', now() - $7::interval)`,
        [pendingId, request.idempotencyKey, request.orderId, request.customerId, 1999, "EUR", age],
      );

    await insertPending("0 seconds");
    const inProgress = await failureOf(payments.charge(request));
    expect(inProgress.code).toBe(status.ABORTED);
    expect((await failureOf(payments.getPayment({ paymentId: pendingId }))).code).toBe(status.ABORTED);

    await db.query("delete from payments where id = $1", [pendingId]);
    await insertPending("1 hour");
    const { payment } = await payments.charge(request);
    expect(payment).toMatchObject({ id: pendingId, status: PaymentStatus.PAYMENT_STATUS_CAPTURED });
  });

  it("names every bad field at once", async () => {
    const error = await failureOf(
      payments.charge({ idempotencyKey: "", orderId: "", customerId: "", amount: undefined, paymentToken: "" }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error).map((v) => v.field)).toEqual([
      "idempotency_key",
      "order_id",
      "customer_id",
      "amount",
      "payment_token",
    ]);
  });

  it("names the bad parts of the amount and a bad token, without echoing the token", async () => {
    const request = chargeRequest({
      idempotencyKey: "short",
      orderId: "order-1",
      customerId: "not ok",
      amount: { currencyCode: "eur", minorUnits: 100_000_001 },
      paymentToken: "tok_live_SECRET4242",
    });
    const error = await failureOf(payments.charge(request));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    const violations = fieldViolationsOf(error);
    expect(violations.map((v) => v.field)).toEqual([
      "idempotency_key",
      "order_id",
      "customer_id",
      "amount.currency_code",
      "amount.minor_units",
      "payment_token",
    ]);
    expect(violations.at(-1)!.description).toContain(
      "tok_visa, tok_mastercard, tok_declined, tok_insufficient_funds, tok_timeout",
    );
    expect(error.details).not.toContain("SECRET4242");
    expect(JSON.stringify(violations)).not.toContain("SECRET4242");
  });
});

/** Poll `check` until it holds (no timing assumption: it just waits for a state). */
async function retryUntil(check: () => Promise<boolean>): Promise<void> {
  for (let attempt = 1; !(await check()); attempt++) {
    if (attempt === 200) throw new Error("condition never held");
    await sleep(25);
  }
}

describe("Refund", () => {
  it("refunds a captured payment once: a second refund returns it as it is", async () => {
    const { payment } = await payments.charge(chargeRequest());
    const first = await payments.refund({ paymentId: payment!.id, reason: "customer changed their mind" });
    expect(first.payment).toMatchObject({ id: payment!.id, status: PaymentStatus.PAYMENT_STATUS_REFUNDED });
    const second = await payments.refund({ paymentId: payment!.id, reason: "again" });
    expect(second).toEqual(first);
    const [row] = await db.query<{ refund_reason: string }>("select refund_reason from payments where id = $1", [payment!.id]);
    expect(row!.refund_reason).toBe("customer changed their mind");
  });

  it("refunds once when refunds race", async () => {
    const { payment } = await payments.charge(chargeRequest());
    const results = await Promise.all(Array.from({ length: 4 }, () => payments.refund({ paymentId: payment!.id, reason: "" })));
    expect(new Set(results.map((r) => r.payment!.updatedAt!.getTime())).size).toBe(1);
    expect(results.every((r) => r.payment!.status === PaymentStatus.PAYMENT_STATUS_REFUNDED)).toBe(true);
  });

  it("answers a repeated charge of a refunded payment with its current state", async () => {
    const request = chargeRequest();
    const { payment } = await payments.charge(request);
    await payments.refund({ paymentId: payment!.id, reason: "" });
    expect((await payments.charge(request)).payment).toMatchObject({
      id: payment!.id,
      status: PaymentStatus.PAYMENT_STATUS_REFUNDED,
    });
  });

  it("refuses a declined payment", async () => {
    const request = chargeRequest({ paymentToken: "tok_declined" });
    await failureOf(payments.charge(request));
    const [row] = await rowsWithKey(request.idempotencyKey);
    const error = await failureOf(payments.refund({ paymentId: row!.id, reason: "" }));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toContain("declined");
  });

  it("answers NOT_FOUND for an unknown payment and INVALID_ARGUMENT naming payment_id or reason", async () => {
    const unknown = newId("pay");
    const notFound = await failureOf(payments.refund({ paymentId: unknown, reason: "" }));
    expect(notFound.code).toBe(status.NOT_FOUND);
    expect(notFound.details).toContain(unknown);

    const badId = await failureOf(payments.refund({ paymentId: "pay_nope", reason: "" }));
    expect(badId.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(badId).map((v) => v.field)).toEqual(["payment_id"]);

    const both = await failureOf(payments.refund({ paymentId: "", reason: "x".repeat(501) }));
    expect(fieldViolationsOf(both).map((v) => v.field)).toEqual(["payment_id", "reason"]);
  });

  it("records PaymentCaptured and PaymentRefunded in the outbox, in the same transactions", async () => {
    const request = chargeRequest();
    const { payment } = await payments.charge(request);
    await payments.refund({ paymentId: payment!.id, reason: "changed my mind" });
    const rows = await db.query<{ type_name: string; payload: Uint8Array }>(
      "select type_name, payload from outbox order by seq",
    );
    const mine = rows.filter((row) => Buffer.from(row.payload).includes(Buffer.from(payment!.id)));
    expect(mine.map((row) => row.type_name)).toEqual(["bazaar.payments.v1.PaymentCaptured", "bazaar.payments.v1.PaymentRefunded"]);
    const refunded = PaymentRefunded.decode(mine[1]!.payload);
    expect(refunded).toMatchObject({ paymentId: payment!.id, orderId: request.orderId, reason: "changed my mind" });
    expect(refunded.amount).toEqual(request.amount);
  });

  it("is reusable in another transaction, as the OrderCancelled consumer will do", async () => {
    const request = chargeRequest();
    const { payment } = await payments.charge(request);
    const found = await findPaymentOfOrder(db, request.orderId);
    expect(found).toMatchObject({ id: payment!.id, status: "CAPTURED", orderId: request.orderId });

    const refunded = await db.transaction((tx) => refundPayment(tx, new Outbox(), found!.id, "order cancelled"));
    expect(refunded).toMatchObject({ status: "REFUNDED", refundReason: "order cancelled" });
    expect((await payments.getPayment({ paymentId: payment!.id })).payment!.status).toBe(
      PaymentStatus.PAYMENT_STATUS_REFUNDED,
    );
    expect(await findPaymentOfOrder(db, newId("ord"))).toBeUndefined();
  });
});

describe("GetPayment", () => {
  it("answers NOT_FOUND for an unknown id", async () => {
    const error = await failureOf(payments.getPayment({ paymentId: newId("pay") }));
    expect(error.code).toBe(status.NOT_FOUND);
  });

  it.each(["", "ord_0123456789abcdef0123456789abcdef"])(
    "answers INVALID_ARGUMENT naming payment_id for %j",
    async (paymentId) => {
      const error = await failureOf(payments.getPayment({ paymentId }));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(fieldViolationsOf(error)).toEqual([{ field: "payment_id", description: expect.any(String) }]);
    },
  );
});

describe("an order given up while its charge is settling", () => {
  // A provider that has taken the money but whose answer the test holds back: the
  // payment is PENDING in between, the window where a refund used to be lost.
  const answers = new Map<string, () => void>();
  let asked = () => {};
  const heldBack: CardProvider = {
    tokenProblem: () => undefined,
    charge: async (paymentId) => {
      const answered = new Promise<void>((resolve) => answers.set(paymentId, resolve));
      asked();
      await answered;
      return { approved: true };
    },
    resolve: async () => ({ approved: true }),
  };
  /** Start a charge and wait until the provider holds it; its answer, to let go. */
  const heldCharge = async (request: ChargeRequest) => {
    const providerAsked = new Promise<void>((resolve) => (asked = resolve));
    const charging = client.charge(request);
    await providerAsked;
    const pending = await findPaymentOfOrder(deps.db, request.orderId);
    expect(pending?.status).toBe("PENDING");
    return { charging, answer: answers.get(pending!.id)! };
  };
  /** The outbox rows that carry this payment, oldest first. */
  const outboxRowsOf = async (paymentId: string) => {
    const rows = await deps.db.query<{ type_name: string; payload: Uint8Array }>("select type_name, payload from outbox order by seq");
    return rows.filter((row) => Buffer.from(row.payload).includes(Buffer.from(paymentId)));
  };
  let held: Awaited<ReturnType<typeof startTestService>>;
  let client: PromiseClient<typeof PaymentServiceService>;
  let deps: ServiceDeps;
  beforeAll(async () => {
    const service = paymentServiceWith(() => heldBack);
    held = await startTestService("payments", { migrationsDir, services: [{ ...service, create: (given) => ((deps = given), service.create(given)) }] });
    client = createClient(PaymentServiceService, held.address, { deadlineMs: 10_000 });
  });
  afterAll(async () => {
    client?.close();
    await held?.stop();
  });

  it("refunds at the settle when OrderRejected was consumed first: the money goes back once", async () => {
    const request = chargeRequest();
    const { charging, answer } = await heldCharge(request);

    const onRejected = paymentEventHandlers.find((handler) => handler.type === events.orderRejected)!;
    const event = { orderId: request.orderId, customerId: request.customerId, reason: "the order was interrupted", occurredAt: new Date() };
    await applyOnce(deps, onRejected, event, { consumer: "payments-orders_order_rejected", eventId: randomUUID(), subject: events.orderRejected.subject });
    answer();

    const { payment } = await charging;
    expect(payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_REFUNDED);
    const stored = await findPaymentOfOrder(deps.db, request.orderId);
    expect(stored).toMatchObject({ status: "REFUNDED", refundReason: "order rejected: the order was interrupted" });
    const mine = await outboxRowsOf(stored!.id);
    expect(mine.map((row) => row.type_name)).toEqual(["bazaar.payments.v1.PaymentCaptured", "bazaar.payments.v1.PaymentRefunded"]);
    expect(PaymentRefunded.decode(mine[1]!.payload)).toMatchObject({ paymentId: stored!.id, reason: "order rejected: the order was interrupted" });
  });

  it("settles charges answered at once each by its own order's fate: the given-up ones refunded, the others captured once", async () => {
    const onRejected = paymentEventHandlers.find((handler) => handler.type === events.orderRejected)!;
    const requests = Array.from({ length: 8 }, () => chargeRequest());
    const held = [];
    for (const request of requests) held.push(await heldCharge(request));
    const givenUp = requests.filter((_, index) => index % 2 === 0);
    for (const request of givenUp) {
      const event = { orderId: request.orderId, customerId: request.customerId, reason: "given up", occurredAt: new Date() };
      await applyOnce(deps, onRejected, event, { consumer: "payments-orders_order_rejected", eventId: randomUUID(), subject: events.orderRejected.subject });
    }
    // All answered in one go: their settles arrive together and share statements.
    for (const { answer } of held) answer();
    const answers = await Promise.all(held.map(({ charging }) => charging));

    for (const [index, request] of requests.entries()) {
      const refunded = index % 2 === 0;
      expect(answers[index]!.payment?.status, `charge ${index}`).toBe(refunded ? PaymentStatus.PAYMENT_STATUS_REFUNDED : PaymentStatus.PAYMENT_STATUS_CAPTURED);
      const stored = await findPaymentOfOrder(deps.db, request.orderId);
      expect(stored, `charge ${index}`).toMatchObject({ status: refunded ? "REFUNDED" : "CAPTURED" });
      const mine = (await outboxRowsOf(stored!.id)).map((row) => row.type_name.split(".").at(-1));
      expect(mine, `charge ${index}`).toEqual(refunded ? ["PaymentCaptured", "PaymentRefunded"] : ["PaymentCaptured"]);
    }
  });

  it("settles a payment settled twice in one batch once, with one PaymentCaptured", async () => {
    const pendingOf = async () => {
      const request = chargeRequest();
      return (await insertPendingPayment(deps.db, { id: newId("pay"), command: { ...request, amount: request.amount! } }))!;
    };
    const [other, twice] = [await pendingOf(), await pendingOf()];
    const settle = (pending: NonNullable<Awaited<ReturnType<typeof pendingOf>>>) => {
      const event = deps.outbox.entry(events.paymentCaptured, { paymentId: pending.id, orderId: pending.orderId, customerId: pending.customerId, amount: pending.amount, occurredAt: new Date() });
      return settleUnlessGivenUp(deps.db, { pending, settlement: { status: "CAPTURED" }, at: new Date(), event });
    };
    // The first runs alone; the two settles of one payment queue behind it and share the next statement.
    const [, first, second] = await Promise.all([settle(other), settle(twice), settle(twice)]);
    expect([first.payment?.status, second.payment?.status].sort()).toEqual(["CAPTURED", undefined]);
    expect((await outboxRowsOf(twice.id)).map((row) => row.type_name)).toEqual(["bazaar.payments.v1.PaymentCaptured"]);
  });

  it("refunds every capture, whichever of the two commits first (40 races)", async () => {
    const onRejected = paymentEventHandlers.find((handler) => handler.type === events.orderRejected)!;
    const firsts = new Set<PaymentStatus | undefined>();
    for (let round = 0; round < 40; round++) {
      const request = chargeRequest();
      const { charging, answer } = await heldCharge(request);
      const event = { orderId: request.orderId, customerId: request.customerId, reason: "raced", occurredAt: new Date() };
      // Which one starts first alternates; which one takes the order first is up to the race.
      const giveUp = () => applyOnce(deps, onRejected, event, { consumer: "payments-orders_order_rejected", eventId: randomUUID(), subject: events.orderRejected.subject });
      if (round % 2 === 0) {
        answer();
        await giveUp();
      } else {
        const givingUp = giveUp();
        setTimeout(answer, round % 4); // 1 or 3 ms: the give-up's BEGIN is a round trip ahead
        await givingUp;
      }
      // The answer is the payment as its settle left it: CAPTURED if the settle came first (the give-up refunded it after).
      const { payment } = await charging;
      expect([PaymentStatus.PAYMENT_STATUS_CAPTURED, PaymentStatus.PAYMENT_STATUS_REFUNDED], `round ${round}`).toContain(payment?.status);
      const stored = await findPaymentOfOrder(deps.db, request.orderId);
      expect(stored, `round ${round}`).toMatchObject({ status: "REFUNDED", refundReason: "order rejected: raced" });
      const mine = await outboxRowsOf(stored!.id);
      expect(mine.map((row) => row.type_name.split(".").at(-1)), `round ${round}`).toEqual(["PaymentCaptured", "PaymentRefunded"]);
      firsts.add(payment?.status);
    }
    // Both orders happened, or the race was not a race.
    expect(firsts.size).toBe(2);
  });
});
