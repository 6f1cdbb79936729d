import { loadConfigOrExit } from "@bazaar/runtime/config";
import { events } from "@bazaar/runtime/events/catalog";
import { runService } from "@bazaar/runtime/service";
import { paymentsConfig } from "./config.js";
import { paymentEventHandlers } from "./events.js";
import { startChargeRecovery } from "./recovery.js";
import { paymentServiceWith, simulatedProvider } from "./service.js";
import { migrationsDir } from "./store.js";

// The payments process: configuration from the environment, the runtime does the rest.
const config = loadConfigOrExit(paymentsConfig);
const provider = simulatedProvider(config.CARD_PROVIDER_LATENCY_MS);
const pendingLeaseMs = config.PENDING_CHARGE_LEASE_MS;

await runService({
  name: "payments",
  config,
  migrationsDir,
  services: [paymentServiceWith(provider, pendingLeaseMs)],
  events: { publishes: [events.paymentCaptured, events.paymentRefunded], consumes: paymentEventHandlers },
  background: (deps) => [startChargeRecovery({ ...deps, provider: provider(deps), pendingLeaseMs }, config.PENDING_CHARGE_SWEEP_MS)],
});
