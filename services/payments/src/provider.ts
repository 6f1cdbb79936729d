import { type Money } from "@bazaar/gen/bazaar/common/v1/money";
import { type CardLedger } from "./card-ledger.js";
import { type ChargeOutcome } from "./domain.js";

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
   * Capture `amount` on the card behind `token`, once per `chargeId` (payments
   * passes the payment id): asked again with the same id, the provider answers
   * the first outcome and moves no more money. Rejects (with `signal.reason`)
   * once `signal` aborts; the money may have moved by then, only its answer is
   * lost: `resolve` tells.
   */
  charge(chargeId: string, token: string, amount: Money, signal: AbortSignal): Promise<ChargeOutcome>;
  /**
   * The outcome of `chargeId` if the provider made the charge. Undefined if it
   * did not, and then the id is void: a charge with it arriving later is refused,
   * so "nothing was charged" stays true.
   */
  resolve(chargeId: string): Promise<ChargeOutcome | undefined>;
}

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

/** A charge id the provider voided (resolve found no charge): it is refused, and moved no money. */
export class ChargeVoided extends Error {
  override name = "ChargeVoided";
}

export class SimulatedCardProvider implements CardProvider {
  /**
   * @param ledger the network's books: what was charged, by charge id.
   * @param latencyMs how long the simulated network takes to answer. The money
   *   moves halfway: an abort in the second half loses the answer of a charge
   *   that was made, as a real network can. A card network is never instant;
   *   the delay also gives concurrent duplicate charges a real window to collide in.
   */
  constructor(
    private readonly ledger: CardLedger,
    private readonly latencyMs = 20,
  ) {}

  tokenProblem(token: string): string | undefined {
    if (isTestToken(token)) return undefined;
    return `must be one of the simulated provider's test tokens: ${Object.keys(TEST_TOKENS).join(", ")}`;
  }

  async charge(chargeId: string, token: string, _amount: Money, signal: AbortSignal): Promise<ChargeOutcome> {
    if (!isTestToken(token)) throw new Error("charge called with a token that tokenProblem rejects");
    const outcome = TEST_TOKENS[token];
    await delay(outcome === "never answers" ? Infinity : this.latencyMs / 2, signal);
    if (outcome === "never answers") throw new Error("unreachable: an infinite delay only ends by aborting");
    const recorded = await this.ledger.record(chargeId, outcome);
    if (recorded === "voided") throw new ChargeVoided(`charge ${chargeId} was voided; nothing was charged`);
    await delay(this.latencyMs / 2, signal);
    return recorded;
  }

  resolve(chargeId: string): Promise<ChargeOutcome | undefined> {
    return this.ledger.resolve(chargeId);
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
