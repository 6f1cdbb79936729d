import { runModule } from "@bazaar/runtime/module";
import { payments } from "./module.js";

// The payments process: its module (module.ts) run by the runtime, configured by the environment.
await runModule(payments);
