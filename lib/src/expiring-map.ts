/**
 * A map whose entries expire, bounded in size: when it is full, the entry set
 * longest ago goes first. For what a process keeps only while it stays true (a
 * verified token until it expires, a product until its price may have changed):
 * an expired entry is never answered, and is dropped when next looked up.
 */
export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`);
  }

  /** The entry of `key` with its expiry, unless it has expired at `now`. */
  lookup(key: K, now: number): { value: V; expiresAt: number } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt > now) return entry;
    this.entries.delete(key);
    return undefined;
  }

  /** The value of `key`, unless it has expired at `now`. */
  get(key: K, now: number): V | undefined {
    return this.lookup(key, now)?.value;
  }

  /** Keep `value` until `expiresAt` (exclusive), as the newest entry. */
  set(key: K, value: V, expiresAt: number): void {
    // Re-inserted last: the Map's order is the eviction order.
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The least time any of `entries` (from ExpiringMap.lookup) has left at `now`: how long an answer made of them stays true. Infinity for none. */
export function leastTimeLeft(entries: ReadonlyArray<{ expiresAt: number }>, now: number): number {
  return entries.reduce((least, entry) => Math.min(least, entry.expiresAt - now), Number.POSITIVE_INFINITY);
}
