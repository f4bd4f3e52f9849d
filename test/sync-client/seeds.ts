/** mulberry32: a small seeded generator, so a randomized run's failure can be replayed with its seed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), state | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seeds of a randomized file: `SYNC_SEEDS=7`, `SYNC_SEEDS=1,5,9` or ranges (`SYNC_SEEDS=1-100,250`), else `defaults`. */
export function syncSeeds(defaults: string): number[] {
  return (process.env.SYNC_SEEDS ?? defaults).split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    return Array.from({ length: to - from + 1 }, (_, k) => from + k);
  });
}
