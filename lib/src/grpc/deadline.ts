import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The deadline of the incoming call a handler is serving, visible to every
 * outgoing call it makes, however deep and across awaits. The server adapter
 * sets it around each handler; the client reads it and never sends a call with
 * a later deadline. So the caller's remaining budget propagates by itself and
 * is never extended, and no handler has to remember to pass it along.
 */
const incoming = new AsyncLocalStorage<number>();

/** Run `work` (a handler) with `deadline` (ms since the epoch; Infinity if the caller set none) as the incoming deadline. */
export function runWithIncomingDeadline<T>(deadline: number, work: () => T): T {
  return incoming.run(deadline, work);
}

/** The deadline of the incoming call being handled, or undefined outside a handler. */
export function incomingDeadline(): number | undefined {
  return incoming.getStore();
}

/**
 * The absolute deadline of an outgoing call: its own budget from now, cut to
 * the incoming call's deadline unless the call is work the service does for
 * itself after its caller stopped waiting (a compensation).
 */
export function outgoingDeadline(budgetMs: number, outlivesCaller = false): number {
  const own = Date.now() + budgetMs;
  const parent = outlivesCaller ? undefined : incomingDeadline();
  return parent === undefined ? own : Math.min(own, parent);
}
