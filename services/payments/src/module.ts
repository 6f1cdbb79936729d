import { events } from "@bazaar/shop/events";
import { defineService } from "@bazaar/runtime/module";
import { type PaymentsConfig, paymentsConfig } from "./config.js";
import { paymentEventHandlers } from "./events.js";
import { startChargeRecovery } from "./recovery.js";
import { paymentServiceWith, simulatedProvider } from "./service.js";
import { migrationsDir } from "./store.js";

/** The card network payments charges on, as configured: the handlers and the recovery ask the same one. */
const cardNetwork = (config: PaymentsConfig) => simulatedProvider(config.CARD_PROVIDER_LATENCY_MS);

/**
 * Payments: charges once per key against the (simulated) card network, refunds
 * what its orders gave up (their events), and resolves charges a dead process
 * left PENDING.
 */
export const payments = defineService({
  name: "payments",
  ports: { grpc: 50054, admin: 9054 },
  config: paymentsConfig,
  migrationsDir,
  grpc: ({ config }) => [paymentServiceWith(cardNetwork(config), config.PENDING_CHARGE_LEASE_MS)],
  publishes: [events.paymentCaptured, events.paymentRefunded],
  consumes: paymentEventHandlers,
  background: (deps, { config }) => [
    startChargeRecovery(
      { ...deps, provider: cardNetwork(config)(deps), pendingLeaseMs: config.PENDING_CHARGE_LEASE_MS },
      config.PENDING_CHARGE_SWEEP_MS,
    ),
  ],
});
