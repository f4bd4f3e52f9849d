import type { ByteRange } from './storage/file-storage.js';

export type RangeRequest = { kind: 'none' } | { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' };

/**
 * Parses a `Range` header against a file of `size` bytes (RFC 9110 §14).
 * Only single byte ranges are served; anything else (several ranges, other
 * units, malformed) is ignored and the whole file is sent, as the RFC allows.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (!header) return { kind: 'none' };
  // Each blank can be matched in one way only: `\s*(\d*)\s*` matched a run of blanks in as many ways
  // as it has blanks, and the regex backtracked through all of them on each side of the dash: a Range of
  // 8 KB of blanks (no digit) took minutes of the event loop, every request of every family waiting.
  const match = /^bytes=\s*(?:(\d+)\s*)?-\s*(?:(\d+)\s*)?$/.exec(header.trim());
  if (!match) return { kind: 'none' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'none' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', range: { start: Math.max(0, size - length), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', range: { start, end } };
}

/** A file's ETag, strong (its bytes never change): its quoted sha256. The download sends it, the upload's 201 names it. */
export function fileEtag(sha256: string): string {
  return `"${sha256}"`;
}

/**
 * True when an If-Match header matches the file's strong ETag (RFC 9110 §13.1.1): `*` (the file
 * exists), or one of the listed entity-tags by strong comparison — a weak tag (W/"…") never matches.
 */
export function etagMatchesStrongly(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim() === etag);
}

/** True when an If-None-Match header matches the strong ETag (weak comparison, as RFC 9110 wants for it). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === opaque);
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
/** The three HTTP-date forms a recipient must accept (RFC 9110 §5.6.7): IMF-fixdate, then the obsolete RFC 850 and asctime ones. */
const HTTP_DATE = [
  new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`),
  new RegExp(`^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`),
  new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`),
];

/** Milliseconds of an HTTP-date, or undefined when the value is not one (the header is then ignored). */
export function parseHttpDate(value: string | undefined): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const form = HTTP_DATE.findIndex((pattern) => pattern.test(text));
  if (form < 0) return undefined;
  // asctime carries no zone but is UTC; Date.parse would read it in the server's local time.
  const ms = Date.parse(form === 2 ? `${text} GMT` : text);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * True when an If-Unmodified-Since header makes the request fail (RFC 9110 §13.1.4): a valid date
 * earlier than the file's Last-Modified (whole seconds). An invalid date is ignored.
 */
export function modifiedAfter(header: string | undefined, modifiedAt: Date): boolean {
  return parseHttpDate(header) !== undefined && !notModifiedSince(header, modifiedAt);
}

/**
 * True when an If-Modified-Since header says the client's copy is current: the file's Last-Modified
 * (`modifiedAt`, sent in whole seconds) is not later than the date given. An invalid date is ignored.
 */
export function notModifiedSince(header: string | undefined, modifiedAt: Date): boolean {
  const since = parseHttpDate(header);
  return since !== undefined && Math.floor(modifiedAt.getTime() / 1000) * 1000 <= since;
}
