/**
 * 并行通道 Lanes: `lanes` workers (at least one) take the items in order, each the next one free, and run
 * `each` on it — a table's chunks, a verification's or a standby check's segments, a reporting cycle's
 * tables. Deterministic in a workflow: an item is taken synchronously, and `each` runs up to its first
 * await before the next lane starts, so the commands come in the order the hand-written loops gave them.
 */
export async function inLanes<T>(items: readonly T[], lanes: number, each: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const n = next++;
      await each(items[n], n);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane));
}
