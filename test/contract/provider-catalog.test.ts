import { catalogService } from "../../services/catalog/src/service.js";
import { migrationsDir } from "../../services/catalog/src/store.js";
import { verifyProvider } from "./support/provider.js";

// The real catalog, checked against contracts/examples/catalog.json by a client built from proto/.
verifyProvider("catalog", { migrationsDir, services: [catalogService] });
