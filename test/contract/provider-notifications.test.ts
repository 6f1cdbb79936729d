import { notificationsService } from "../../services/notifications/src/service.js";
import { migrationsDir } from "../../services/notifications/src/store.js";
import { verifyProvider } from "./support/provider.js";

// The real notifications service, checked against contracts/examples/notifications.json.
// (What it records from events is checked by events.test.ts.)
verifyProvider("notifications", { migrationsDir, services: [notificationsService] });
