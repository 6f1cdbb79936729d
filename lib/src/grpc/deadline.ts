import { context, type Context, createContextKey } from "@opentelemetry/api";

/**
 * The deadline of the incoming call a handler is serving, visible to every
 * outgoing call it makes, however deep and across awaits. The server adapter
 * puts it in the context it runs each handler in; the client reads it and never
 * sends a call with a later deadline. So the caller's remaining budget
 * propagates by itself and is never extended, and no handler has to remember to
 * pass it along.
 *
 * It rides in the same async context as the call's trace (one context per call,
 * not a second AsyncLocalStorage: bench/analysis.md, the hop). That context
 * follows awaits once a context manager is registered (`useAsyncContext`, which
 * the server adapter ensures).
 */
const INCOMING_DEADLINE = createContextKey("bazaar.incoming_deadline");

/** `parent` with `deadline` (ms since the epoch; Infinity if the caller set none) as the incoming deadline. */
export function withIncomingDeadline(parent: Context, deadline: number): Context {
  return parent.setValue(INCOMING_DEADLINE, deadline);
}

/** The deadline of the incoming call being handled, or undefined outside a handler. */
export function incomingDeadline(): number | undefined {
  return context.active().getValue(INCOMING_DEADLINE) as number | undefined;
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
