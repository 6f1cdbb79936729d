import { runModule } from "@bazaar/runtime/module";
import { inventory } from "./module.js";

// The inventory process: its module (module.ts) run by the runtime, configured by the environment.
await runModule(inventory);
