import { status } from "@grpc/grpc-js";
import { type Database, type Queryable } from "@bazaar/runtime/db/database";
import { RpcError, unavailable } from "@bazaar/runtime/errors";
import { events } from "@bazaar/runtime/events/catalog";
import { type Outbox } from "@bazaar/runtime/events/outbox";
import { newId } from "@bazaar/runtime/ids";
import { type Logger } from "@bazaar/runtime/logger";
import { type ChargeCommand, chargeInProgress, chargeResult, checkSameCharge, type Payment } from "./domain.js";
import { type CardProvider, type ChargeOutcome } from "./provider.js";
import { refundPayment } from "./refund.js";
import {
  deletePendingPayment,
  getPaymentByKeyForUpdate,
  insertPendingPayment,
  reclaimExpiredPending,
  settlePayment,
} from "./store.js";

/**
 * Charging a card exactly once per idempotency key:
 * 1. claim the key with a PENDING row (one statement; a short transaction if the key is taken);
 * 2. ask the provider with no transaction open, since it can take seconds;
 * 3. settle the row as CAPTURED or DECLINED in one transaction.
 * A second call with the key meanwhile is ABORTED (retry); afterwards it gets
 * the first call's result. If step 2 moves no money (cancelled, timed out,
 * provider error), the PENDING row is deleted so a retry can charge.
 */

/** The longest the provider may take, whatever the client's deadline: a PENDING row is never held longer. */
export const PROVIDER_TIMEOUT_MS = 15_000;
/**
 * A PENDING row older than this was left by a process that died between steps
 * 1 and 3 (it had no chance to delete it). Well past PROVIDER_TIMEOUT_MS, so a
 * live charge is never taken over; the next call with the key charges again.
 */
export const PENDING_LEASE_MS = 4 * PROVIDER_TIMEOUT_MS;

export interface ChargeDeps {
  db: Database;
  provider: CardProvider;
  logger: Logger;
  outbox: Outbox;
}

/** Charge once per key; `signal` is the call's (aborted when the client cancels or its deadline passes). */
export async function chargeCard(deps: ChargeDeps, command: ChargeCommand, signal: AbortSignal): Promise<Payment> {
  const claim = await claimKey(deps.db, command);
  if (claim.settled) return chargeResult(claim.payment);
  const pending = claim.payment;

  let outcome: ChargeOutcome;
  try {
    outcome = await askProvider(deps.provider, command, signal);
  } catch (error) {
    await deletePendingPayment(deps.db, pending.id); // one statement: no transaction needed
    throw providerFailure(error, signal, deps.logger, pending.id);
  }

  // The money has moved (or been refused): record it even if the client has gone, so a retry finds it.
  const settled = await deps.db.transaction(async (tx) => {
    const payment = await settlePayment(
      tx,
      pending.id,
      outcome.approved ? { status: "CAPTURED" } : { status: "DECLINED", declineReason: outcome.reason || "unspecified" },
    );
    if (!payment) throw new Error(`payment ${pending.id} was no longer PENDING when its charge settled`);
    if (payment.status === "CAPTURED") {
      await deps.outbox.add(tx, events.paymentCaptured, {
        paymentId: payment.id,
        orderId: payment.orderId,
        customerId: payment.customerId,
        amount: payment.amount,
        occurredAt: payment.updatedAt,
      });
      // Its order was rejected or cancelled while the provider was answering (events.ts): give it back now.
      if (payment.refundDueReason !== "") return refundPayment(tx, deps.outbox, payment.id, payment.refundDueReason);
    }
    return payment;
  });
  // A decline is answered only after its transaction committed: throwing inside would roll it back.
  return chargeResult(settled);
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
async function claimKey(db: Database, command: ChargeCommand): Promise<Claim> {
  const inserted = await insertPendingPayment(db, newId("pay"), command);
  if (inserted) return { settled: false, payment: inserted };
  return db.transaction((tx) => claimTakenKey(tx, command));
}

async function claimTakenKey(tx: Queryable, command: ChargeCommand): Promise<Claim> {
  const earlier = await getPaymentByKeyForUpdate(tx, command.idempotencyKey);
  // Gone since the insert found it: the other call moved no money and deleted its row. A retry claims the key.
  if (!earlier) throw chargeInProgress();
  checkSameCharge(earlier, command);
  if (earlier.status !== "PENDING") return { settled: true, payment: earlier };
  if (await reclaimExpiredPending(tx, earlier.id, PENDING_LEASE_MS)) return { settled: false, payment: earlier };
  throw chargeInProgress();
}

class ProviderTimeout extends Error {
  override name = "ProviderTimeout";
}

/** The provider's answer, abandoned when the call ends or PROVIDER_TIMEOUT_MS passes; no timer or listener outlives it. */
async function askProvider(provider: CardProvider, command: ChargeCommand, callSignal: AbortSignal): Promise<ChargeOutcome> {
  const controller = new AbortController();
  const onCallEnded = () => controller.abort(callSignal.reason);
  const timer = setTimeout(() => controller.abort(new ProviderTimeout()), PROVIDER_TIMEOUT_MS);
  callSignal.addEventListener("abort", onCallEnded, { once: true });
  if (callSignal.aborted) onCallEnded();
  try {
    return await provider.charge(command.paymentToken, command.amount, controller.signal);
  } finally {
    clearTimeout(timer);
    callSignal.removeEventListener("abort", onCallEnded);
  }
}

/** The status for a provider call that moved no money. None of them names the token. */
function providerFailure(error: unknown, callSignal: AbortSignal, logger: Logger, paymentId: string): RpcError {
  if (callSignal.aborted) {
    // Nobody reads this answer (grpc-js has already told the client); it is for the log line.
    return new RpcError(
      status.CANCELLED,
      "charge abandoned: the call was cancelled or its deadline passed; nothing was charged",
    );
  }
  if (error instanceof ProviderTimeout) {
    return unavailable(`the card provider did not answer within ${PROVIDER_TIMEOUT_MS} ms; nothing was charged, retry`);
  }
  logger.warn({ err: error, payment_id: paymentId }, "card provider failed");
  return unavailable("the card provider failed; nothing was charged, retry");
}
