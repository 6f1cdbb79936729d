import { type Money } from "@bazaar/gen/bazaar/common/v1/money";
import { PostgresCardLedger } from "../../../services/payments/src/card-ledger.js";
import { type ChargeOutcome } from "../../../services/payments/src/domain.js";
import { type CardProvider, SimulatedCardProvider } from "../../../services/payments/src/provider.js";
import { type ProviderOf } from "../../../services/payments/src/service.js";

/**
 * What the card network does with the next charge, each at the moment the test
 * releases it:
 * - approve, decline: the network records the outcome at once, its answer waits for the release;
 * - lose: the network records an approval at once, and the answer is lost at the release
 *   (the connection drops after the money moved);
 * - unreachable: as lose, and the network cannot be asked what became of the charge
 *   either (its next resolve fails), so the charge stays PENDING for recovery;
 * - fail: nothing is charged; at the release the call fails.
 */
export type ChargeScript = "approve" | "decline" | "lose" | "unreachable" | "fail";

/** What a charge after the scripted one (a retry with a new payment id) gets: the network's own answer, or another failure. */
export type RetryScript = "network" | "fail";

export const CHARGE_SCRIPTS: readonly ChargeScript[] = ["approve", "decline", "lose", "unreachable", "fail"];
export const RETRY_SCRIPTS: readonly RetryScript[] = ["network", "fail"];

/** The token an order pays with so the real simulated network records the script's outcome. */
export const tokenFor = (script: ChargeScript) => (script === "decline" ? "tok_declined" : "tok_visa");

class NetworkFailure extends Error {
  override name = "NetworkFailure";
}

/**
 * The real simulated card network (its books in payments' database, the table
 * `simulated_card_ledger`), wrapped so a test decides when the first charge of
 * a round answers and how. The network itself does the charging, so its books
 * say what really moved.
 */
export class HeldCardNetwork {
  private network: SimulatedCardProvider | undefined;
  private script: { charge: ChargeScript; retry: RetryScript } | undefined;
  private scriptedTaken = false;
  private release: (() => void) | undefined;
  private released: Promise<void> = Promise.resolve();
  private asked: (() => void) | undefined;
  /** Charge ids whose next resolve fails (the network unreachable after losing the answer). */
  private readonly unreachable = new Set<string>();

  /** For paymentServiceWith: the provider payments is built with, over its own database. */
  readonly providerOf: ProviderOf = ({ db }) => {
    this.network = new SimulatedCardProvider(new PostgresCardLedger(db), 0);
    return this.provider;
  };

  /**
   * Script the next charge. `asked` resolves once payments has asked the network
   * for it (the charge is then in flight, its payment PENDING).
   */
  next(charge: ChargeScript, retry: RetryScript): { asked: Promise<void> } {
    this.script = { charge, retry };
    this.scriptedTaken = false;
    this.released = new Promise<void>((resolve) => (this.release = resolve));
    return { asked: new Promise<void>((resolve) => (this.asked = resolve)) };
  }

  /** Let the scripted charge answer (or fail) now. Repeating it does nothing. */
  answer(): void {
    this.release?.();
  }

  /** The provider payments charges through; recovery asks the same one, as payments' own process does. */
  readonly provider: CardProvider = {
    tokenProblem: (token) => this.networkOrThrow().tokenProblem(token),
    charge: (chargeId, token, amount, signal) => {
      if (!this.script) throw new Error("charge asked before the test scripted it (HeldCardNetwork.next)");
      if (this.scriptedTaken) return this.retried(chargeId, token, amount, signal);
      this.scriptedTaken = true;
      this.asked?.();
      return this.scripted(this.script.charge, chargeId, token, amount, signal);
    },
    resolve: async (chargeId) => {
      if (this.unreachable.delete(chargeId)) throw new NetworkFailure("the card network is unreachable");
      return this.networkOrThrow().resolve(chargeId);
    },
  };

  private async scripted(script: ChargeScript, chargeId: string, token: string, amount: Money, signal: AbortSignal): Promise<ChargeOutcome> {
    // Everything but "fail" moves the money (or records the decline) before the answer is held.
    const outcome = script === "fail" ? undefined : await this.networkOrThrow().charge(chargeId, token, amount, signal);
    await abortable(this.released, signal);
    if (script === "unreachable") this.unreachable.add(chargeId);
    if (script === "lose" || script === "unreachable") throw new NetworkFailure("connection reset after the charge was made");
    if (!outcome) throw new NetworkFailure("the card network failed before charging");
    return outcome;
  }

  private async retried(chargeId: string, token: string, amount: Money, signal: AbortSignal): Promise<ChargeOutcome> {
    if (this.script!.retry === "fail") throw new NetworkFailure("the card network failed before charging");
    return this.networkOrThrow().charge(chargeId, token, amount, signal);
  }

  private networkOrThrow(): SimulatedCardProvider {
    if (!this.network) throw new Error("payments has not built its card provider yet");
    return this.network;
  }
}

/** `promise`, or the signal's reason once it aborts (payments gave up waiting). */
function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
