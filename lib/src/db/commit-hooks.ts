/**
 * Queryable.afterCommit: callbacks registered inside a
 * transaction wait in its list and run once it committed.
 */

/** Outside a transaction (no list) a callback runs at once; inside, it waits in the transaction's list. */
export function afterCommitOf(committed: Array<() => void> | undefined): (callback: () => void) => void {
  return committed ? (callback) => committed.push(callback) : (callback) => callback();
}

/** Run a transaction collecting afterCommit callbacks; run them once it committed (not if it threw). */
export async function runCommitted<T>(transaction: (committed: Array<() => void>) => Promise<T>): Promise<T> {
  const committed: Array<() => void> = [];
  const result = await transaction(committed);
  for (const callback of committed) callback();
  return result;
}
