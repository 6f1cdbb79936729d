import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { type ChargeRequest, PaymentServiceService, PaymentStatus } from "@bazaar/gen/bazaar/payments/v1/payments";
import { events } from "@bazaar/shop/events";
import { applyOnce } from "@bazaar/runtime/events/consumer";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { newId } from "@bazaar/runtime/ids";
import { type ServiceDeps } from "@bazaar/runtime/service";
import { failureOf, startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PostgresCardLedger } from "../src/card-ledger.js";
import { paymentEventHandlers } from "../src/events.js";
import { type CardProvider, ChargeVoided, SimulatedCardProvider } from "../src/provider.js";
import { resolveAbandonedCharges } from "../src/recovery.js";
import { paymentServiceWith } from "../src/service.js";
import { findPaymentOfOrder, insertPendingPayment, migrationsDir } from "../src/store.js";

// Charges whose answer never reached payments: the provider took the money, but
// the call ended first (its answer lost), or payments died before settling.
// Real gRPC, a database of its own, the simulated network's books in it.

const LEASE_MS = 60_000;
let service: Awaited<ReturnType<typeof startTestService>>;
let client: PromiseClient<typeof PaymentServiceService>;
let deps: ServiceDeps;
let network: SimulatedCardProvider;
/** What the next charge does after the network has recorded it: answer, or lose the answer. */
let answer: "deliver" | "lose" = "deliver";

/** The simulated network, except that the test may lose an answer after the money moved. */
const flaky: CardProvider = {
  tokenProblem: (token) => network.tokenProblem(token),
  async charge(chargeId, token, amount, signal) {
    const outcome = await network.charge(chargeId, token, amount, signal);
    if (answer === "lose") throw new Error("connection reset by peer");
    return outcome;
  },
  resolve: (chargeId) => network.resolve(chargeId),
};

beforeAll(async () => {
  const payments = paymentServiceWith(({ db }) => {
    network = new SimulatedCardProvider(new PostgresCardLedger(db), 0);
    return flaky;
  }, LEASE_MS);
  service = await startTestService("payments", { migrationsDir, services: [{ ...payments, create: (given) => ((deps = given), payments.create(given)) }] });
  client = createClient(PaymentServiceService, service.address, { deadlineMs: 5000, retry: false });
});
afterAll(async () => {
  client?.close();
  await service?.stop();
});
beforeEach(() => {
  answer = "deliver";
});

const chargeRequest = (): ChargeRequest => ({
  idempotencyKey: `key-${randomUUID()}`,
  orderId: newId("ord"),
  customerId: "cust_7",
  amount: { currencyCode: "EUR", minorUnits: 2500 },
  paymentToken: "tok_visa",
});

/** The outbox rows about one payment, by type, in the order written. */
async function eventsOf(paymentId: string): Promise<string[]> {
  const rows = await deps.db.query<{ type_name: string; payload: Uint8Array }>("select type_name, payload from outbox order by seq");
  return rows.filter((row) => Buffer.from(row.payload).includes(Buffer.from(paymentId))).map((row) => row.type_name.split(".").at(-1)!);
}

/** A charge left as a process that died after asking the provider leaves it: PENDING, its lease run out. */
async function abandoned(request: ChargeRequest, { charged }: { charged: boolean }): Promise<string> {
  const pending = await insertPendingPayment(deps.db, { id: newId("pay"), command: { ...request, amount: request.amount! } });
  if (charged) await network.charge(pending!.id, request.paymentToken, request.amount!, new AbortController().signal);
  await deps.db.query("update payments set updated_at = now() - interval '2 minutes' where id = $1", [pending!.id]);
  return pending!.id;
}

const recover = () => resolveAbandonedCharges({ db: deps.db, outbox: deps.outbox, provider: flaky, pendingLeaseMs: LEASE_MS });

describe("a charge whose answer was lost after the money moved", () => {
  it("is settled as captured, answered as such, and its PaymentCaptured published: the money is never taken silently", async () => {
    answer = "lose";
    const request = chargeRequest();
    const { payment } = await client.charge(request);
    expect(payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);
    expect(await findPaymentOfOrder(deps.db, request.orderId)).toMatchObject({ status: "CAPTURED" });
    expect(await eventsOf(payment!.id)).toEqual(["PaymentCaptured"]);

    answer = "deliver";
    const again = await client.charge(request);
    expect(again.payment).toMatchObject({ id: payment!.id, status: PaymentStatus.PAYMENT_STATUS_CAPTURED });
    expect(await eventsOf(payment!.id)).toEqual(["PaymentCaptured"]);
  });

  it("is told apart from a charge the provider never made: that one answers UNAVAILABLE, nothing charged, and the key can charge again", async () => {
    const request = { ...chargeRequest(), paymentToken: "tok_timeout" };
    const error = await failureOf(client.charge(request, { deadlineMs: 300 }));
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    // The provider was asked and voided the charge; the row went with it.
    await expect.poll(() => findPaymentOfOrder(deps.db, request.orderId)).toBeUndefined();
    const retried = await client.charge({ ...request, paymentToken: "tok_visa" });
    expect(retried.payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);
  });
});

describe("recovery of charges a dead process left PENDING", () => {
  it("settles a charge the provider made as CAPTURED, with its event", async () => {
    const id = await abandoned(chargeRequest(), { charged: true });
    expect(await recover()).toContainEqual({ paymentId: id, status: "CAPTURED" });
    expect(await eventsOf(id)).toEqual(["PaymentCaptured"]);
  });

  it("refunds at once a charge made for an order that was rejected meanwhile", async () => {
    const request = chargeRequest();
    const id = await abandoned(request, { charged: true });
    const onRejected = paymentEventHandlers.find((handler) => handler.type === events.orderRejected)!;
    const event = { orderId: request.orderId, customerId: request.customerId, reason: "payments is unavailable", occurredAt: new Date() };
    await applyOnce(deps, onRejected, event, { consumer: "payments-orders_order_rejected", eventId: randomUUID(), subject: events.orderRejected.subject });

    expect(await recover()).toContainEqual({ paymentId: id, status: "REFUNDED" });
    expect(await findPaymentOfOrder(deps.db, request.orderId)).toMatchObject({ status: "REFUNDED", refundReason: "order rejected: payments is unavailable" });
    expect(await eventsOf(id)).toEqual(["PaymentCaptured", "PaymentRefunded"]);
  });

  it("deletes a charge the provider never made, which voids it: a late charge with that id is refused", async () => {
    const request = chargeRequest();
    const id = await abandoned(request, { charged: false });
    expect(await recover()).toContainEqual({ paymentId: id, status: "VOIDED" });
    expect(await findPaymentOfOrder(deps.db, request.orderId)).toBeUndefined();
    await expect(network.charge(id, "tok_visa", request.amount!, new AbortController().signal)).rejects.toBeInstanceOf(ChargeVoided);
    expect(await eventsOf(id)).toEqual([]);
  });

  it("leaves alone a PENDING charge within its lease, and resolves each abandoned one once", async () => {
    const request = chargeRequest();
    const live = await insertPendingPayment(deps.db, { id: newId("pay"), command: { ...request, amount: request.amount! } });
    const id = await abandoned(chargeRequest(), { charged: true });
    const [first, second] = await Promise.all([recover(), recover()]);
    const all = [...first!, ...second!];
    expect(all.filter((entry) => entry.paymentId === id)).toHaveLength(1);
    expect(all.some((entry) => entry.paymentId === live!.id)).toBe(false);
    expect(await findPaymentOfOrder(deps.db, request.orderId)).toMatchObject({ status: "PENDING" });
    expect(await eventsOf(id)).toEqual(["PaymentCaptured"]);
  });
});

describe("an order given up before its charge", () => {
  const reject = async (request: ChargeRequest) => {
    const onRejected = paymentEventHandlers.find((handler) => handler.type === events.orderRejected)!;
    const event = { orderId: request.orderId, customerId: request.customerId, reason: "the order was interrupted", occurredAt: new Date() };
    await applyOnce(deps, onRejected, event, { consumer: "payments-orders_order_rejected", eventId: randomUUID(), subject: events.orderRejected.subject });
  };

  it("is never charged: a charge arriving after OrderRejected is refused before the card network is asked", async () => {
    const request = chargeRequest();
    await reject(request);
    const error = await failureOf(client.charge(request));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toBe(`order ${request.orderId} was given up (order rejected: the order was interrupted); nothing was charged`);
    expect(await findPaymentOfOrder(deps.db, request.orderId)).toBeUndefined();
  });

  it("keeps its fate when its first charge moved no money and was deleted: a charge under a new payment id is refused too", async () => {
    const request = chargeRequest();
    const id = await abandoned(request, { charged: false });
    await reject(request);
    expect(await recover()).toContainEqual({ paymentId: id, status: "VOIDED" });
    expect((await failureOf(client.charge(request))).code).toBe(status.FAILED_PRECONDITION);
    const [books] = await deps.db.query<{ n: number }>("select count(*)::int as n from simulated_card_ledger where charge_id in (select id from payments where order_id = $1)", [request.orderId]);
    expect(books!.n).toBe(0);
  });
});

