import { type Payment as PaymentMessage, PaymentServiceService, PaymentStatus } from "@bazaar/gen/bazaar/payments/v1/payments";
import { notFound } from "@bazaar/runtime/errors";
import { type UnaryHandlers } from "@bazaar/runtime/grpc/server";
import { implement, type ServiceDeps } from "@bazaar/runtime/service";
import { PostgresCardLedger } from "./card-ledger.js";
import { chargeCard, type ChargeDeps } from "./charge.js";
import { paymentsConfig } from "./config.js";
import { chargeInProgress, parseCharge, parseGetPayment, parseRefund, type Payment } from "./domain.js";
import { type CardProvider, SimulatedCardProvider } from "./provider.js";
import { refundPayment } from "./refund.js";
import { getPayment } from "./store.js";

/** PaymentService's gRPC handlers: validate, run the use case, answer. */
export function paymentHandlers(deps: ChargeDeps): UnaryHandlers<typeof PaymentServiceService> {
  return {
    async charge(request, call) {
      const command = parseCharge(request, (token) => deps.provider.tokenProblem(token));
      return { payment: toMessage(await chargeCard(deps, command, call.signal)) };
    },

    async refund(request) {
      const { paymentId, reason } = parseRefund(request);
      return { payment: toMessage(await deps.db.transaction((tx) => refundPayment(tx, deps.outbox, paymentId, reason))) };
    },

    async getPayment(request) {
      const id = parseGetPayment(request);
      const payment = await getPayment(deps.db, id);
      if (!payment) throw notFound(`payment ${id} not found`);
      if (payment.status === "PENDING") throw chargeInProgress();
      return { payment: toMessage(payment) };
    },
  };
}

const DEFAULT_PENDING_LEASE_MS = paymentsConfig.shape.PENDING_CHARGE_LEASE_MS.parse(undefined);

const STATUS_MESSAGES: Record<Payment["status"], PaymentStatus> = {
  // Never sent: a PENDING payment is answered ABORTED before it becomes a message.
  PENDING: PaymentStatus.PAYMENT_STATUS_UNSPECIFIED,
  CAPTURED: PaymentStatus.PAYMENT_STATUS_CAPTURED,
  DECLINED: PaymentStatus.PAYMENT_STATUS_DECLINED,
  REFUNDED: PaymentStatus.PAYMENT_STATUS_REFUNDED,
};

function toMessage(payment: Payment): PaymentMessage {
  return {
    id: payment.id,
    orderId: payment.orderId,
    customerId: payment.customerId,
    amount: payment.amount,
    status: STATUS_MESSAGES[payment.status],
    declineReason: payment.declineReason,
    createdAt: payment.createdAt,
    updatedAt: payment.updatedAt,
  };
}

/** The card provider payments talks to, made once its database is open. */
export type ProviderOf = (deps: ServiceDeps) => CardProvider;

/** The simulated card network, its books in payments' database so they outlive a crash of payments. */
export const simulatedProvider =
  (latencyMs?: number): ProviderOf =>
  ({ db }) =>
    new SimulatedCardProvider(new PostgresCardLedger(db), latencyMs);

/** Payments over a given card provider (tests can pass their own). */
export const paymentServiceWith = (providerOf: ProviderOf, pendingLeaseMs = DEFAULT_PENDING_LEASE_MS) =>
  implement(PaymentServiceService, (deps) => paymentHandlers({ ...deps, provider: providerOf(deps), pendingLeaseMs }));

/** Payments with its defaults: its contract and handlers over its own database and the simulated card provider. */
export const paymentService = paymentServiceWith(simulatedProvider());
