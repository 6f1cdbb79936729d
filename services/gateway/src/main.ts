import { runEdge } from "@bazaar/runtime/edge";
import { gateway } from "./module.js";

// The gateway process: its module (module.ts) run by the runtime, configured by the environment.
await runEdge(gateway);
