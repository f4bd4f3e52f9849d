/**
 * CORS_ORIGINS: `*` (any origin: bearer tokens, no cookies), `none` (CORS off), or a comma-separated
 * list of browser origins, `scheme://host[:port]` (http or https). The cors middleware compares a
 * request's Origin header with each entry as a string, so anything else (`notaurl`, a path, a
 * trailing slash, `*.example.com`) would never match: refused at start-up instead of silently
 * allowing nothing.
 */
const ORIGIN_FORM = /^https?:\/\/[^/?#@\s]+$/i;
/** A DNS name (IDNs arrive as punycode after URL parsing), an IPv4 address or a bracketed IPv6 address. */
const HOSTNAME = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$|^\[[0-9a-f:.]+\]$/;

/** The origin as a browser sends it (lower-case scheme and host, no default port), or undefined if `entry` is not one. */
function normalizeOrigin(entry: string): string | undefined {
  if (entry === '*') return entry;
  if (!ORIGIN_FORM.test(entry)) return undefined;
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return undefined;
  }
  return HOSTNAME.test(url.hostname) ? url.origin : undefined;
}

function entriesOf(value: string): string[] {
  return value.split(',').map((entry) => entry.trim());
}

/** The entries of CORS_ORIGINS that are not `*` or an origin (an empty entry counts as bad); `none` alone is fine. */
export function badCorsOrigins(value: string): string[] {
  if (value.trim() === 'none') return [];
  return entriesOf(value).filter((entry) => normalizeOrigin(entry) === undefined);
}

/** The allowed origins of a valid CORS_ORIGINS, as browsers send them (`*` kept); `none` gives none. */
export function corsOrigins(value: string): string[] {
  if (value.trim() === 'none') return [];
  return [...new Set(entriesOf(value).map((entry) => normalizeOrigin(entry) ?? entry))];
}
