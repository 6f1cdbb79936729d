import { runModule } from "@bazaar/runtime/module";
import { orders } from "./module.js";

// The orders process: its module (module.ts) run by the runtime, configured by the environment.
await runModule(orders);
