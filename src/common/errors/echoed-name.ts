/**
 * Longest client-sent name (a table, column or body property, an id) an error repeats. Names the
 * server knows are far shorter; an unknown one of 10 MB was sent back whole, three times (message,
 * details, details.errors): a 64 MB push answered a 192 MB 422 (found by review).
 */
export const MAX_ECHOED_LENGTH = 64;

/** `name` as an error repeats it: cut to MAX_ECHOED_LENGTH characters, with '…' when it was cut. */
export function echoed(name: string): string {
  if (name.length <= MAX_ECHOED_LENGTH) return name;
  // Not half of a surrogate pair: the answer stays well-formed text.
  const cut = name.slice(0, MAX_ECHOED_LENGTH);
  return `${/[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut}…`;
}
