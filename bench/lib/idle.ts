import { IDLE_AFTER_BUSY_MS, IDLE_CHECK_MS } from "@bazaar/runtime/idle-memory";

/**
 * How long a mesh is left at least before its idle memory is read: two check
 * intervals for each process to give back what start-up or the load grew
 * (collectWhenIdle); longer while a process has not (settleIdle, idle-settle.ts),
 * up to IDLE_SETTLE_MAX_MS. Its own module, so the report can name them without
 * loading the mesh's launcher.
 */
export const IDLE_SETTLE_MS = 2 * IDLE_CHECK_MS + 2000;

/** The longest a mesh just started is left to fall idle before its memory is read anyway: four check intervals. */
export const IDLE_SETTLE_MAX_MS = 4 * IDLE_CHECK_MS + 2000;

/** The same after a load: a process collects only once it has stayed idle IDLE_AFTER_BUSY_MS since its last busy interval. */
export const IDLE_SETTLE_AFTER_LOAD_MAX_MS = IDLE_AFTER_BUSY_MS + 2 * IDLE_CHECK_MS + 2000;
