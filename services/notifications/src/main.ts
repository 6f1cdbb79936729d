import { baseServiceConfig, loadConfigOrExit } from "@bazaar/runtime/config";
import { runService } from "@bazaar/runtime/service";
import { notificationEvents } from "./events.js";
import { notificationsService } from "./service.js";
import { migrationsDir } from "./store.js";

// The notifications process: configuration from the environment, the runtime does the rest.
await runService({
  name: "notifications",
  config: loadConfigOrExit(baseServiceConfig("notifications")),
  migrationsDir,
  services: [notificationsService],
  events: notificationEvents,
});
