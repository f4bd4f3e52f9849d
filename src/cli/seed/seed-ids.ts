import { createHash } from 'node:crypto';

/**
 * A stable UUID (version 5 layout, SHA-1 of a name) for a seeded record, so a
 * re-run recognises what it wrote before and adds only what is missing.
 * Lower-case canonical form, as the sync protocol expects.
 */
export function seedId(...parts: Array<string | number>): string {
  const hash = createHash('sha1').update(`hemoday-seed:${parts.join(':')}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Deterministic pseudo-random numbers in [0, 1) from a name (mulberry32 seeded by SHA-1). */
export function seededRandom(...parts: Array<string | number>): () => number {
  let state = createHash('sha1').update(`hemoday-rng:${parts.join(':')}`).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
