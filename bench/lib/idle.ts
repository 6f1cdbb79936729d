import { IDLE_CHECK_MS } from "@bazaar/runtime/idle-memory";

/**
 * How long a mesh is left before its idle memory is read: two check intervals
 * for each process to give back what start-up or the load grew (collectWhenIdle).
 * Its own module, so the report can name it without loading the mesh's launcher.
 */
export const IDLE_SETTLE_MS = 2 * IDLE_CHECK_MS + 2000;
