import { runModule } from "@bazaar/runtime/module";
import { notifications } from "./module.js";

// The notifications process: its module (module.ts) run by the runtime, configured by the environment.
await runModule(notifications);
