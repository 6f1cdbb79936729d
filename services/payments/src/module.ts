import { events } from "@bazaar/shop/events";
import { defineService } from "@bazaar/runtime/module";
import { paymentsConfig } from "./config.js";
import { paymentEventHandlers } from "./events.js";
import { startChargeRecovery } from "./recovery.js";
import { paymentServiceWith, simulatedProvider } from "./service.js";
import { migrationsDir } from "./store.js";

/**
 * Payments: charges once per key against the (simulated) card network, refunds
 * what its orders gave up (their events), and resolves charges a dead process
 * left PENDING.
 */
export const payments = defineService({
  name: "payments",
  config: paymentsConfig,
  migrationsDir,
  grpc: ({ config }) => [paymentServiceWith(simulatedProvider(config.CARD_PROVIDER_LATENCY_MS), config.PENDING_CHARGE_LEASE_MS)],
  publishes: [events.paymentCaptured, events.paymentRefunded],
  consumes: paymentEventHandlers,
  background: (deps, { config }) => [
    startChargeRecovery(
      { ...deps, provider: simulatedProvider(config.CARD_PROVIDER_LATENCY_MS)(deps), pendingLeaseMs: config.PENDING_CHARGE_LEASE_MS },
      config.PENDING_CHARGE_SWEEP_MS,
    ),
  ],
});
