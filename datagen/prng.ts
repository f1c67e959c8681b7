/** mulberry32: a small seeded generator, so a dataset is the same on every machine for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random stream for one entity of one table: child tables can re-derive a parent's draws (was it
 * planted with an anomaly?) without holding the parent table in memory.
 */
export function entityRandom(seed: number, salt: number, entity: number): () => number {
  return seededRandom(Math.imul(seed ^ Math.imul(salt, 0x9e3779b1), 0x85ebca77) ^ Math.imul(entity, 0xc2b2ae35));
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

/** Picks from [value, weight] pairs. */
export function weighted<T>(rand: () => number, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((n, [, w]) => n + w, 0);
  let r = rand() * total;
  for (const [v, w] of items) {
    if ((r -= w) < 0) return v;
  }
  return items[items.length - 1][0];
}
