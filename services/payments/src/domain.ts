import { conflict, preconditionFailed, Violations } from "@bazaar/runtime/errors";
import { checkCustomerId, checkId, checkIdempotencyKey } from "@bazaar/shop/ids";
import { type Money } from "@bazaar/gen/bazaar/common/v1/money";

/** The payments rules, free of I/O: what a valid charge is, what a repeated key means, when a refund is allowed. */

/**
 * PENDING is internal: the row that claims an idempotency key while the card
 * provider is asked. It is never answered to a client as a payment.
 */
export type PaymentStatus = "PENDING" | "CAPTURED" | "DECLINED" | "REFUNDED";

export interface Payment {
  id: string;
  idempotencyKey: string;
  orderId: string;
  customerId: string;
  amount: Money;
  status: PaymentStatus;
  /** Why the provider declined; empty otherwise. */
  declineReason: string;
  /** Why it was refunded (for the PaymentRefunded event); empty otherwise. */
  refundReason: string;
  /** Set while PENDING when its order was rejected or cancelled: the settle refunds a capture at once. */
  createdAt: Date;
  updatedAt: Date;
}

/** A charge as validated from a request. The token is kept only in memory, never stored or logged. */
/** What the card network answered a charge: approved (the money moved) or declined, with its reason. */
export type ChargeOutcome = { approved: true } | { approved: false; reason: string };

export interface ChargeCommand {
  idempotencyKey: string;
  orderId: string;
  customerId: string;
  amount: Money;
  paymentToken: string;
}

export const MIN_MINOR_UNITS = 1;
/** One million euros in cents: far below 2^53, and more than a coffee shop ever charges. */
export const MAX_MINOR_UNITS = 100_000_000;
export const MAX_REFUND_REASON_LENGTH = 500;
const CURRENCY_CODE = /^[A-Z]{3}$/;

/** Check every field of a charge at once. `tokenProblem` is the card provider's verdict on the token. */
export function parseCharge(
  request: { idempotencyKey: string; orderId: string; customerId: string; amount: Money | undefined; paymentToken: string },
  tokenProblem: (token: string) => string | undefined,
): ChargeCommand {
  const violations = new Violations();
  checkIdempotencyKey(request.idempotencyKey, violations, "idempotency_key");
  checkId("ord", request.orderId, violations, "order_id");
  checkCustomerId(request.customerId, violations, "customer_id");
  checkMoney(request.amount, violations, "amount");
  if (request.paymentToken === "") violations.add("payment_token", "is required");
  else {
    const problem = tokenProblem(request.paymentToken);
    if (problem !== undefined) violations.add("payment_token", problem);
  }
  violations.throwIfAny();
  const { idempotencyKey, orderId, customerId, paymentToken } = request;
  return { idempotencyKey, orderId, customerId, amount: request.amount!, paymentToken };
}

function checkMoney(amount: Money | undefined, violations: Violations, field: string): void {
  if (amount === undefined) {
    violations.add(field, "is required");
    return;
  }
  if (!CURRENCY_CODE.test(amount.currencyCode)) {
    violations.add(`${field}.currency_code`, 'must be an ISO 4217 code of three upper-case letters, e.g. "EUR"');
  }
  if (!Number.isInteger(amount.minorUnits) || amount.minorUnits < MIN_MINOR_UNITS || amount.minorUnits > MAX_MINOR_UNITS) {
    violations.add(`${field}.minor_units`, `must be between ${MIN_MINOR_UNITS} and ${MAX_MINOR_UNITS}`);
  }
}

export function parseGetPayment(request: { paymentId: string }): string {
  const violations = new Violations();
  checkId("pay", request.paymentId, violations, "payment_id");
  violations.throwIfAny();
  return request.paymentId;
}

export function parseRefund(request: { paymentId: string; reason: string }): { paymentId: string; reason: string } {
  const violations = new Violations();
  checkId("pay", request.paymentId, violations, "payment_id");
  if (request.reason.length > MAX_REFUND_REASON_LENGTH) {
    violations.add("reason", `must be at most ${MAX_REFUND_REASON_LENGTH} characters`);
  }
  violations.throwIfAny();
  return { paymentId: request.paymentId, reason: request.reason };
}

/**
 * A key is bound to the charge it was first used for: the same key with
 * another order, customer or amount is a client bug, not a retry. The token is
 * not part of the binding (it is never stored): after a charge that moved no
 * money (cancelled, provider timeout) a retry may use another card.
 */
export function checkSameCharge(earlier: Payment, command: ChargeCommand): void {
  const differing = [
    earlier.orderId !== command.orderId && "order_id",
    earlier.customerId !== command.customerId && "customer_id",
    earlier.amount.currencyCode !== command.amount.currencyCode && "amount.currency_code",
    earlier.amount.minorUnits !== command.amount.minorUnits && "amount.minor_units",
  ].filter((field) => field !== false);
  if (differing.length > 0) {
    const what = `${differing.join(", ")} differ`;
    throw preconditionFailed(
      `idempotency_key ${command.idempotencyKey} was used for a different charge (${what}); use a new key for a new charge`,
    );
  }
}

/**
 * What a settled charge answers, the first time and on every retry with its
 * key: the payment, or the decline as the same FAILED_PRECONDITION.
 */
export function chargeResult(payment: Payment): Payment {
  if (payment.status === "PENDING") throw chargeInProgress();
  if (payment.status === "DECLINED") throw cardDeclined(payment.declineReason);
  return payment;
}

export const cardDeclined = (reason: string) => preconditionFailed(`card declined: ${reason}`);

/** ABORTED, because the caller should retry: by then the other call has settled the charge. */
export const chargeInProgress = () => conflict("a charge with this key is in progress; retry");
/** A charge for an order that was rejected or cancelled before its charge began: nothing is charged. */
export const orderGivenUp = (orderId: string, reason: string) => preconditionFailed(`order ${orderId} was given up (${reason}); nothing was charged`);

/** What a refund does to a payment: refund it now, or nothing because it already was (money goes back once). */
export function refundAction(payment: Payment): "refund" | "already-refunded" {
  switch (payment.status) {
    case "CAPTURED":
      return "refund";
    case "REFUNDED":
      return "already-refunded";
    case "DECLINED":
      throw preconditionFailed(`payment ${payment.id} was declined; there is nothing to refund`);
    case "PENDING":
      throw chargeInProgress();
  }
}
