import { paymentService } from "../../services/payments/src/service.js";
import { migrationsDir } from "../../services/payments/src/store.js";
import { verifyProvider } from "./support/provider.js";

// The real payments service (simulated card provider), checked against contracts/examples/payments.json.
verifyProvider("payments", { migrationsDir, services: [paymentService] });
