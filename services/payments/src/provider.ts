import { type Money } from "./domain.js";

/**
 * The port to the card network. Payments talks to it only through this
 * interface, so a real provider's adapter can replace the simulation without
 * touching the handlers.
 */
export interface CardProvider {
  /**
   * Why this token can never be charged, or undefined if it may be tried.
   * Checked with the request's other fields, before any row is written, so a
   * token the provider does not know is INVALID_ARGUMENT rather than a decline.
   * The description must not contain the token.
   */
  tokenProblem(token: string): string | undefined;
  /**
   * Capture `amount` on the card behind `token`. Rejects (with `signal.reason`)
   * once `signal` aborts; a rejected charge moved no money.
   */
  charge(token: string, amount: Money, signal: AbortSignal): Promise<ChargeOutcome>;
}

export type ChargeOutcome = { approved: true } | { approved: false; reason: string };

/**
 * The simulated provider's test tokens (documented in the README):
 * - tok_visa, tok_mastercard: approved.
 * - tok_declined: declined with reason "card_declined".
 * - tok_insufficient_funds: declined with reason "insufficient_funds".
 * - tok_timeout: never answers; the charge ends only when its signal aborts
 *   (the client cancelled, its deadline passed, or the provider timeout hit).
 * Any other token is INVALID_ARGUMENT on `payment_token`.
 */
export const TEST_TOKENS = {
  tok_visa: { approved: true },
  tok_mastercard: { approved: true },
  tok_declined: { approved: false, reason: "card_declined" },
  tok_insufficient_funds: { approved: false, reason: "insufficient_funds" },
  tok_timeout: "never answers",
} as const satisfies Record<string, ChargeOutcome | "never answers">;

type TestToken = keyof typeof TEST_TOKENS;

const isTestToken = (token: string): token is TestToken => Object.hasOwn(TEST_TOKENS, token);

export class SimulatedCardProvider implements CardProvider {
  /**
   * @param latencyMs how long the simulated network takes to answer. A card
   *   network is never instant; the delay also gives concurrent duplicate
   *   charges a real window to collide in.
   */
  constructor(private readonly latencyMs = 20) {}

  tokenProblem(token: string): string | undefined {
    if (isTestToken(token)) return undefined;
    return `must be one of the simulated provider's test tokens: ${Object.keys(TEST_TOKENS).join(", ")}`;
  }

  async charge(token: string, _amount: Money, signal: AbortSignal): Promise<ChargeOutcome> {
    if (!isTestToken(token)) throw new Error("charge called with a token that tokenProblem rejects");
    const outcome = TEST_TOKENS[token];
    await delay(outcome === "never answers" ? Infinity : this.latencyMs, signal);
    if (outcome === "never answers") throw new Error("unreachable: an infinite delay only ends by aborting");
    return outcome;
  }
}

/** Resolve after `ms` (never, for Infinity), or reject with the signal's reason once it aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    // No timer at all for Infinity: nothing holds the event loop, only the signal ends the wait.
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        }, ms)
      : undefined;
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
