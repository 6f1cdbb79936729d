import { defineEdge, type RunningEdge, startEdge } from "@bazaar/runtime/edge";
import { createLogger, type Logger } from "@bazaar/runtime/logger";
import { consoleCalls } from "./calls.js";
import { type ConsoleConfig, consoleConfig } from "./config.js";
import { openConsole } from "./console.js";

/**
 * The development console: one page with the shop, the live map of the mesh's
 * calls and events, and faults on purpose. An edge (HTTP, no database) on every
 * service's lifecycle; development meshes only (its config refuses anything else).
 */
export const console_ = defineEdge({
  name: "console",
  config: consoleConfig,
  calls: consoleCalls,
  callDeadlineMs: () => 2_000,
  open: openConsole,
});

/** The console in this process with `config` (tests, and main.ts through runEdge). */
export const startConsole = (config: ConsoleConfig, logger: Logger = createLogger("console", config.LOG_LEVEL)): Promise<RunningEdge> => startEdge(console_, config, logger);
