import { type Database, type Queryable } from "@bazaar/runtime/db/database";
import { cancelled, type DomainError, unavailable } from "@bazaar/runtime/errors";
import { events } from "@bazaar/shop/events";
import { type Outbox } from "@bazaar/runtime/events/outbox";
import { newId } from "@bazaar/runtime/ids";
import { type Logger } from "@bazaar/runtime/logger";
import { type ChargeCommand, chargeInProgress, type ChargeOutcome, chargeResult, checkSameCharge, orderGivenUp, type Payment } from "./domain.js";
import { type CardProvider } from "./provider.js";
import { refundPayment } from "./refund.js";
import {
  deletePendingPayment,
  getPayment,
  getPaymentByKeyForUpdate,
  givenUpReason,
  insertPendingPayment,
  lockFateOf,
  reclaimExpiredPending,
  type Settlement,
  settlePayment,
  settleUnlessGivenUp,
} from "./store.js";

/**
 * Charging a card exactly once per idempotency key:
 * 1. claim the key with a PENDING row (one statement; a short transaction if the key is taken);
 * 2. ask the provider with no transaction open, since it can take seconds;
 * 3. settle the row as CAPTURED or DECLINED with its event (one statement;
 *    a transaction if its order was given up meanwhile, to refund at once).
 * A second call with the key meanwhile is ABORTED (retry); afterwards it gets
 * the first call's result. The provider charges once per payment id, so asking
 * again never charges twice. If step 2 ends without an answer (cancelled, timed
 * out, provider error), the provider is asked what became of the charge: made,
 * it is settled as if answered; not made, the provider voids it and the PENDING
 * row is deleted so a retry can charge. A process that dies in between leaves
 * the row PENDING for recovery.ts, which does the same.
 */

/** The longest the provider may take, whatever the client's deadline: a PENDING row is never held longer. */
export const PROVIDER_TIMEOUT_MS = 15_000;

export interface ChargeDeps {
  db: Database;
  provider: CardProvider;
  logger: Logger;
  outbox: Outbox;
  /**
   * How old a PENDING row must be before another caller may take it over: its
   * process died between steps 1 and 3. Well past PROVIDER_TIMEOUT_MS.
   */
  pendingLeaseMs: number;
}

/** Charge once per key; `signal` is the call's (aborted when the client cancels or its deadline passes). */
export async function chargeCard(deps: ChargeDeps, command: ChargeCommand, signal: AbortSignal): Promise<Payment> {
  const claim = await claimKey(deps, command);
  if (claim.settled) return chargeResult(claim.payment);
  const pending = claim.payment;

  let outcome: ChargeOutcome;
  try {
    outcome = await askProvider(deps.provider, pending.id, command, signal);
  } catch (error) {
    const resolved = await resolveUnanswered(deps, pending).catch((lookupError: unknown) => {
      deps.logger.warn({ err: lookupError, payment_id: pending.id }, "could not ask the card provider what became of a charge; recovery will");
      return "unknown" as const;
    });
    if (resolved === "unknown") throw unavailable("the card provider's answer was lost and its outcome is not known yet; retry with the same idempotency key");
    if (resolved) return chargeResult(resolved); // the money moved though the answer was lost
    throw providerFailure(error, signal, deps.logger, pending.id);
  }
  // The money has moved (or been refused): record it even if the client has gone, so a retry finds it.
  // A decline is thrown (chargeResult) only after it committed: throwing inside would roll it back.
  return chargeResult(await settleCharge(deps, pending, outcome));
}

/**
 * A PENDING charge whose answer never came: the provider's outcome settled, or,
 * if it made no charge (and has now voided it), the row deleted so the key can
 * charge again; undefined then.
 */
export async function resolveUnanswered(deps: Pick<ChargeDeps, "db" | "provider" | "outbox">, pending: Payment): Promise<Payment | undefined> {
  const outcome = await deps.provider.resolve(pending.id);
  if (outcome) return settleCharge(deps, pending, outcome);
  await deletePendingPayment(deps.db, pending.id); // one statement: no transaction needed
  return undefined;
}

const settlementOf = (outcome: ChargeOutcome): Settlement =>
  outcome.approved ? { status: "CAPTURED" } : { status: "DECLINED", declineReason: outcome.reason || "unspecified" };

/**
 * Record the provider's outcome of a PENDING payment, with its PaymentCaptured
 * event, in one statement. A capture whose order was given up meanwhile
 * (events.ts; the order's fate row makes sure one of the two sees the other) is
 * settled in a transaction instead, and refunded in it. A row another caller
 * settled first (recovery, or a retry that took it over) is returned as it is.
 */
async function settleCharge(deps: Pick<ChargeDeps, "db" | "outbox">, pending: Payment, outcome: ChargeOutcome): Promise<Payment> {
  const at = new Date();
  const captured = outcome.approved ? deps.outbox.entry(events.paymentCaptured, capturedMessage(pending, at)) : undefined;
  const settled = await settleUnlessGivenUp(deps.db, { pending, settlement: settlementOf(outcome), at, event: captured });
  if (settled.payment) {
    if (captured) deps.outbox.recorded(deps.db, captured);
    return settled.payment;
  }
  const givenUpAtSettle = settled.givenUp;
  if (givenUpAtSettle === undefined) return settledBefore(deps.db, pending.id);
  return deps.db.transaction(async (tx) => {
    const givenUp = (await lockFateOf(tx, pending.orderId)) ?? givenUpAtSettle; // given up stays given up
    const payment = await settlePayment(tx, pending.id, settlementOf(outcome), at);
    if (!payment) return settledBefore(tx, pending.id);
    if (payment.status !== "CAPTURED") return payment;
    await deps.outbox.add(tx, events.paymentCaptured, capturedMessage(payment, at));
    return refundPayment(tx, deps.outbox, payment.id, givenUp);
  });
}

const capturedMessage = (payment: Payment, at: Date) => ({
  paymentId: payment.id,
  orderId: payment.orderId,
  customerId: payment.customerId,
  amount: payment.amount,
  occurredAt: at,
});

/** A payment another caller settled while this one asked the provider. */
async function settledBefore(db: Queryable, paymentId: string): Promise<Payment> {
  const current = await getPayment(db, paymentId);
  if (!current || current.status === "PENDING") throw new Error(`payment ${paymentId} was neither PENDING nor settled when its charge settled`);
  return current;
}

/** The row a call works with: its own PENDING claim (settled false), or an earlier call's settled payment. */
interface Claim {
  settled: boolean;
  payment: Payment;
}

/**
 * Claim the key. The insert alone needs no transaction (one statement commits
 * by itself: no BEGIN and COMMIT round trips); only a key already taken opens
 * one, to lock the earlier row while deciding what to do with it.
 */
async function claimKey(deps: ChargeDeps, command: ChargeCommand): Promise<Claim> {
  const inserted = await insertPendingPayment(deps.db, { id: newId("pay"), command });
  if (inserted) return { settled: false, payment: inserted };
  return deps.db.transaction((tx) => claimTakenKey(tx, command, deps.pendingLeaseMs));
}

async function claimTakenKey(tx: Queryable, command: ChargeCommand, leaseMs: number): Promise<Claim> {
  const earlier = await getPaymentByKeyForUpdate(tx, command.idempotencyKey);
  if (!earlier) {
    // Not charged, and never to be: the order was rejected or cancelled before its charge began.
    const givenUp = await givenUpReason(tx, command.orderId);
    if (givenUp !== undefined) throw orderGivenUp(command.orderId, givenUp);
    // Gone since the insert found it: the other call moved no money and deleted its row. A retry claims the key.
    throw chargeInProgress();
  }
  checkSameCharge(earlier, command);
  if (earlier.status !== "PENDING") return { settled: true, payment: earlier };
  const reclaimed = await reclaimExpiredPending(tx, earlier.id, leaseMs);
  if (reclaimed) return { settled: false, payment: reclaimed };
  throw chargeInProgress();
}

class ProviderTimeout extends Error {
  override name = "ProviderTimeout";
}

/** The provider's answer, abandoned when the call ends or PROVIDER_TIMEOUT_MS passes; no timer or listener outlives it. */
async function askProvider(provider: CardProvider, paymentId: string, command: ChargeCommand, callSignal: AbortSignal): Promise<ChargeOutcome> {
  const controller = new AbortController();
  const onCallEnded = () => controller.abort(callSignal.reason);
  const timer = setTimeout(() => controller.abort(new ProviderTimeout()), PROVIDER_TIMEOUT_MS);
  callSignal.addEventListener("abort", onCallEnded, { once: true });
  if (callSignal.aborted) onCallEnded();
  try {
    return await provider.charge(paymentId, command.paymentToken, command.amount, controller.signal);
  } finally {
    clearTimeout(timer);
    callSignal.removeEventListener("abort", onCallEnded);
  }
}

/** The error for a provider call that moved no money. None of them names the token. */
function providerFailure(error: unknown, callSignal: AbortSignal, logger: Logger, paymentId: string): DomainError {
  if (callSignal.aborted) {
    // Nobody reads this answer (grpc-js has already told the client); it is for the log line.
    return cancelled("charge abandoned: the call was cancelled or its deadline passed; nothing was charged");
  }
  if (error instanceof ProviderTimeout) {
    return unavailable(`the card provider did not answer within ${PROVIDER_TIMEOUT_MS} ms; nothing was charged, retry`);
  }
  logger.warn({ err: error, payment_id: paymentId }, "card provider failed");
  return unavailable("the card provider failed; nothing was charged, retry");
}
