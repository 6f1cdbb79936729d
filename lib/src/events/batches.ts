/**
 * The items of `source` in batches of at most `maxSize`. A batch is handed out
 * when it is full, `lingerMs` after its first item arrived, or when the source
 * ends. Items go on arriving while the caller works on a batch, so a caller that
 * falls behind gets bigger batches (its next one is handed out at once), and one
 * that keeps up waits at most `lingerMs` for company.
 *
 * At most `maxSize` items wait here: past that the source is not read, so what
 * is taken from it but not yet handled stays bounded (for a JetStream consumer,
 * messages whose ack_wait is already running).
 */
export async function* batches<T>(source: AsyncIterable<T>, maxSize: number, lingerMs: number): AsyncGenerator<T[]> {
  const queue: T[] = [];
  let firstArrived = 0;
  let ended = false;
  /** The caller stopped taking batches: the source is no longer read. */
  let closed = false;
  let failure: { error: unknown } | undefined;
  // Whoever waits: the batcher for items (or a full batch, or the end), the reader for room.
  let itemsWaiter: (() => void) | undefined;
  let roomWaiter: (() => void) | undefined;

  const reading = (async () => {
    try {
      // Set while the source is not read for want of room: what it then yields has waited already.
      let heldBack = false;
      for await (const item of source) {
        if (closed) break;
        if (queue.length === 0) firstArrived = heldBack ? -Infinity : performance.now();
        heldBack = false;
        queue.push(item);
        // The batcher needs waking only for a first item or a full batch; in between its linger timer runs.
        if (queue.length === 1 || queue.length >= maxSize) itemsWaiter?.();
        while (queue.length >= maxSize && !closed) {
          heldBack = true;
          await new Promise<void>((resolve) => (roomWaiter = resolve));
        }
      }
    } catch (error) {
      failure = { error };
    } finally {
      ended = true;
      itemsWaiter?.();
    }
  })();

  try {
    for (;;) {
      if (queue.length === 0) {
        if (ended) break;
        await new Promise<void>((resolve) => (itemsWaiter = resolve));
        continue;
      }
      const lingerLeft = lingerMs - (performance.now() - firstArrived);
      if (queue.length < maxSize && !ended && lingerLeft > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          itemsWaiter = resolve;
          timer = setTimeout(resolve, lingerLeft);
        });
        clearTimeout(timer);
        continue;
      }
      const batch = queue.splice(0, maxSize);
      // What is left (or held back in the source) has waited already: the next batch goes without lingering.
      firstArrived = -Infinity;
      roomWaiter?.();
      yield batch;
    }
  } finally {
    closed = true;
    roomWaiter?.();
  }
  await reading;
  if (failure) throw failure.error;
}
