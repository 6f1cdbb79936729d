import { runModule } from "@bazaar/runtime/module";
import { catalog } from "./module.js";

// The catalog process: its module (module.ts) run by the runtime, configured by the environment.
await runModule(catalog);
