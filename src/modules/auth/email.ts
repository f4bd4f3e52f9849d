import { INVISIBLE, UNPRINTABLE } from '../../common/text/unprintable.js';

/**
 * i followed by combining dots above (U+0307): what lower-casing makes of the dotted capital İ
 * (U+0130, and I + U+0307, which NFC composes into it), and a look-alike of i itself. A Turkish
 * keyboard upper-cases i to İ: `İlker@gmail.com` (a phone capitalizing the first letter, or caps
 * lock) was `i̇lker@gmail.com`, which looks like `ilker@gmail.com` and is no mailbox anyone has —
 * its owner was refused at login (401), and registering made a second, look-alike account (found by
 * review). Folded to i, as Unicode's Turkic case folding does (İ → i), it is the one account. Emails
 * stored before this fold: migration FoldDottedIInEmails.
 */
const DOTTED_I = /i\u0307+/g;

/**
 * The one form an email is stored, looked up and rate-limited in: trimmed, Unicode NFC, lower-cased
 * by JavaScript's locale-independent rules, a dotted i folded to i (DOTTED_I). Done here rather
 * than with PostgreSQL's lower(), whose result depends on the database's locale (the embedded
 * cluster is C: lower('Ä') = 'Ä'), so that `ÄBC@x`, `äbc@x` and a decomposed `a\u0308bc@x` are one
 * account on every server.
 *
 * Used by register, login, join, the rate limit and the admin CLI; the users table holds only
 * normalized emails, compared by equality under a unique index.
 */
export function normalizeEmail(email: string): string {
  // NFC again after lower-casing: lower-casing can leave a sequence that composes (rare, but cheap to settle).
  return email.trim().normalize('NFC').toLowerCase().replace(DOTTED_I, 'i').normalize('NFC');
}

/**
 * Letters with a compatibility decomposition that are ordinary letters of their script, typed with
 * one key: Thai ำ (U+0E33, as in น้ำ) and Lao ຳ (U+0EB3), Lao ໜ ໝ (U+0EDC, U+0EDD), Armenian և (U+0587).
 * An address in those scripts holds them; refusing them would refuse its owner.
 */
const KEYBOARD_COMPATIBILITY_LETTERS = /[\u0e33\u0eb3\u0edc\u0edd\u0587]/g;

/**
 * What an email may not contain, whatever its format allows: C0 and C1 controls, DEL, line and
 * paragraph separators, bidi embeddings, overrides and isolates (UNPRINTABLE). class-validator's
 * IsEmail accepts them in a quoted local part (`"\x1b]0;pwned\x07"@x`, CR/LF, tab, DEL) and the
 * separators and bidi controls even unquoted and in the domain: such an account could never be sent
 * its password-reset email (nodemailer refuses CR/LF in an address) and its email acted on the
 * terminals and logs it was shown on (found by review). No mailbox has them: SMTP's quoted local
 * part is printable ASCII (RFC 5321 §4.1.2 qtextSMTP, quoted-pairSMTP) or UTF-8 text (RFC 6531),
 * where RFC 5198 rules out controls. Spaces inside quotes (`"john doe"@x`) stay allowed.
 * Nor invisible characters (INVISIBLE: zero-width space and joiners, soft hyphen, variation
 * selectors…), which IsEmail accepts anywhere: `leila\u200b@x` looked exactly like `leila@x` and was
 * a second account (a look-alike in a family's member list, or one its owner could not sign in to by
 * typing what they see; found by review). IDNA forbids them in domain names but for ZWJ/ZWNJ in a few
 * scripts' contexts, and no mail provider hands out such a mailbox.
 * Nor compatibility characters (what NFKC, not NFC, would replace: the ﬁ ligature, full-width ｌ,
 * circled ⓛ, superscript and modifier letters…), which IsEmail accepts in the local part: `ﬁona@x`
 * and `ｌeila@x` (an Asian keyboard left in full-width mode) looked like `fiona@x` and `leila@x` and
 * were second accounts (found by review). IDNA maps them out of domain names (UTS #46), and PRECIS
 * disallows them in identifiers (RFC 8264 §9.17): no mailbox has them. Save for a few letters that
 * keyboards type as letters of their own (KEYBOARD_COMPATIBILITY_LETTERS: Thai and Lao sara am,
 * Lao ໜ ໝ, Armenian և), which stay allowed.
 *
 * The one rule, applied to the normalized form on every route that takes an email (register, login,
 * forgot-password, through their DTOs) and so on the CLI options that go through RegisterDto
 * (user:create, user:reset-password, seed --email). Returns the problem (the 400's message after the
 * field name), or undefined. Never depends on any account: a look-up refused by it answers as every
 * other invalid email does.
 */
export function emailCharacterProblem(email: string): string | undefined {
  if (UNPRINTABLE.test(email)) return 'must not contain control characters, line breaks or bidirectional-text controls';
  if (INVISIBLE.test(email)) return 'must not contain invisible characters (zero-width spaces or joiners, soft hyphens, variation selectors)';
  const letters = email.replace(KEYBOARD_COMPATIBILITY_LETTERS, '');
  if (letters.normalize('NFKC') !== letters.normalize('NFC')) return 'must not contain compatibility characters (ligatures, full-width, circled, superscript or modifier letters)';
  return undefined;
}
