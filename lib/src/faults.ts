/**
 * Faults on purpose, for watching the mesh cope (the development console):
 * a service that answers slowly, one that fails every call, one whose event
 * consumers stop. A process takes them only with BAZAAR_FAULTS=1, itself a
 * development-only setting (it needs BAZAAR_DEV_MODE=1): otherwise its admin
 * port has no /faults and nothing here runs on a call. Each fault expires by
 * itself (at most MAX_FAULT_SECONDS) and can be switched off before that.
 */
export const FAULT_KINDS = ["slow", "fail", "pause-consumers"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** How long a "slow" fault holds each call: long enough for callers' deadlines, retries and breakers to show on the map. */
export const SLOW_FAULT_DELAY_MS = 3_000;
export const MAX_FAULT_SECONDS = 300;

export interface ActiveFault {
  kind: FaultKind;
  secondsLeft: number;
}

/** The faults switched on in this process, each until its expiry. */
export class Faults {
  private readonly until = new Map<FaultKind, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Switch `kind` on for `seconds` (1..MAX_FAULT_SECONDS), replacing an earlier expiry. */
  set(kind: FaultKind, seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_FAULT_SECONDS) {
      throw new RangeError(`seconds: expected a whole number from 1 to ${MAX_FAULT_SECONDS}, got ${JSON.stringify(seconds)}`);
    }
    this.until.set(kind, this.now() + seconds * 1000);
  }

  clear(kind: FaultKind): void {
    this.until.delete(kind);
  }

  /** Milliseconds `kind` stays on; 0 when it is off (or has expired). */
  remainingMs(kind: FaultKind): number {
    const until = this.until.get(kind);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left <= 0) this.until.delete(kind);
    return Math.max(0, left);
  }

  active(): ActiveFault[] {
    return FAULT_KINDS.map((kind) => ({ kind, secondsLeft: Math.ceil(this.remainingMs(kind) / 1000) })).filter((fault) => fault.secondsLeft > 0);
  }
}

export const isFaultKind = (value: string): value is FaultKind => (FAULT_KINDS as readonly string[]).includes(value);
