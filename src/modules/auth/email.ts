/**
 * The one form an email is stored, looked up and rate-limited in: trimmed, Unicode NFC, lower-cased
 * by JavaScript's locale-independent rules. Done here rather than with PostgreSQL's lower(), whose
 * result depends on the database's locale (the embedded cluster is C: lower('Ä') = 'Ä'), so that
 * `ÄBC@x`, `äbc@x` and a decomposed `a\u0308bc@x` are one account on every server.
 *
 * Used by register, login, join, the rate limit and the admin CLI; the users table holds only
 * normalized emails, compared by equality under a unique index.
 */
export function normalizeEmail(email: string): string {
  // NFC again after lower-casing: lower-casing can leave a sequence that composes (rare, but cheap to settle).
  return email.trim().normalize('NFC').toLowerCase().normalize('NFC');
}
