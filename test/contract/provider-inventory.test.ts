import { inventoryService } from "../../services/inventory/src/service.js";
import { migrationsDir } from "../../services/inventory/src/store.js";
import { verifyProvider } from "./support/provider.js";

// The real inventory, checked against contracts/examples/inventory.json by a client built from proto/.
verifyProvider("inventory", { migrationsDir, services: [inventoryService] });
