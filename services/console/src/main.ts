import { runEdge } from "@bazaar/runtime/edge";
import { console_ } from "./module.js";

// The console process: its module (module.ts) run by the runtime, configured by the environment.
await runEdge(console_);
