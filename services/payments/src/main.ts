import { baseServiceConfig, loadConfigOrExit } from "@bazaar/runtime/config";
import { events } from "@bazaar/runtime/events/catalog";
import { runService } from "@bazaar/runtime/service";
import { paymentEventHandlers } from "./events.js";
import { paymentService } from "./service.js";
import { migrationsDir } from "./store.js";

// The payments process: configuration from the environment, the runtime does the rest.
await runService({
  name: "payments",
  config: loadConfigOrExit(baseServiceConfig("payments")),
  migrationsDir,
  services: [paymentService],
  events: { publishes: [events.paymentCaptured, events.paymentRefunded], consumes: paymentEventHandlers },
});
