import { type Payment as PaymentMessage, PaymentServiceService, PaymentStatus } from "@bazaar/gen/bazaar/payments/v1/payments";
import { notFound } from "@bazaar/runtime/errors";
import { type UnaryHandlers } from "@bazaar/runtime/grpc/server";
import { implement } from "@bazaar/runtime/service";
import { chargeCard, type ChargeDeps } from "./charge.js";
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

/** Payments over a given card provider (tests can pass their own). */
export const paymentServiceWith = (provider: CardProvider) =>
  implement(PaymentServiceService, ({ db, logger, outbox }) => paymentHandlers({ db, logger, outbox, provider }));

/** Payments as the runtime starts it: its contract and handlers over its own database and the simulated card provider. */
export const paymentService = paymentServiceWith(new SimulatedCardProvider());
