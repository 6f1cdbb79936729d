/**
 * A seeded random source (mulberry32), so a fuzz run is the same run every
 * time: a failure found once is found again with the same seed.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  /**
   * A string meant to hurt: very long, unicode of every kind, control
   * characters, injection-shaped, or empty. At most `limit` UTF-16 units, so a
   * list of them stays a plausible message (gRPC refuses messages over 4 MiB).
   */
  hostileString(limit = 100_000): string {
    return this.unboundedHostileString().slice(0, limit);
  }

  private unboundedHostileString(): string {
    switch (this.int(0, 9)) {
      case 0:
        return "";
      case 1:
        return "x".repeat(this.pick([256, 1025, 10_000, 100_000]));
      case 2:
        return this.pick(UNICODE).repeat(this.int(1, 300));
      case 3:
        return Array.from({ length: this.int(1, 64) }, () => String.fromCharCode(this.int(0, 0x1f))).join("");
      case 4:
        return this.pick(INJECTIONS);
      case 5:
        // Lone surrogates: not valid UTF-16, encoded as U+FFFD on the wire.
        return "\ud800abc\udfff";
      case 6:
        return Array.from({ length: this.int(1, 80) }, () => String.fromCodePoint(this.int(0x20, 0x2ffff))).join("");
      case 7:
        return ` ${this.pick(PLAUSIBLE)} `;
      case 8:
        return this.pick(PLAUSIBLE).toUpperCase();
      default:
        return this.pick(PLAUSIBLE) + this.pick(UNICODE);
    }
  }

  /** A number meant to hurt: negative, zero, huge, fractional, not a number. */
  hostileNumber(): number {
    return this.pick([0, -1, 1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, 1e308, 0.5, -0.0, NaN, Infinity, -Infinity, this.int(-1e9, 1e9)]);
  }
}

const UNICODE = ["é", "ß", "日本語", "🙂", "👨‍👩‍👧‍👦", "\u202e", "\u0000", "\ufeff", "Z̴̡̛͎a̶l̷g̸o̵", "ﷺ", "\u200b", "𝕏"];
const INJECTIONS = [
  "'; drop table orders; --",
  "\" or 1=1 --",
  "../../../etc/passwd",
  "%00%ff",
  "${jndi:ldap://x}",
  "<script>alert(1)</script>",
  "__proto__",
  "constructor",
  "ord_' || pg_sleep(10) || '",
  "null",
];
/** Values close to valid ones, so validation has to look at more than the first character. */
const PLAUSIBLE = ["v60-dripper", "espresso-machine", "ord_0123456789abcdef0123456789abcdef", "pay_0123456789abcdef0123456789abcdef", "tok_visa", "alice", "EUR", "key-0001-abcdef"];
