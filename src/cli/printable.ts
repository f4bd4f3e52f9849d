import { INVISIBLE, UNPRINTABLE } from '../common/text/unprintable.js';

const EVERY_UNPRINTABLE = new RegExp(UNPRINTABLE.source, 'g');
const EVERY_INVISIBLE = new RegExp(INVISIBLE.source, 'gu');
const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text a user of the app wrote (a member's name or email, a patient field), as a CLI prints it for a
 * person to read: those characters written as escapes (`\n`, `\u001b`). The API stores them (a name
 * or a patient field may hold any character but NUL; an email registered before emails refused
 * them, control characters in its quoted local part), and printed as they were, a member named "x\r\x1b[2K    owner  …" showed in
 * family:show as an owner line with another email and id, and an email could set the terminal's
 * title (found by review). `--json` output is JSON's own escaping.
 */
export function printable(text: string): string {
  return text.replace(EVERY_UNPRINTABLE, escaped);
}

/**
 * An email as the CLI prints it: printable, and its invisible characters escaped too (`\u200b`):
 * emails refuse them now, but an account registered before that rule may hold one, and support must
 * see that `leila\u200b@example.com` is not `leila@example.com`.
 */
export function printableEmail(email: string): string {
  return printable(email).replace(EVERY_INVISIBLE, escaped);
}

/** One character as its escape: `\n`, `\r`, `\t`, else `\u200b` (`\u{e0041}` beyond the BMP). */
function escaped(c: string): string {
  const code = c.codePointAt(0)!;
  return SHORT[c] ?? (code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`);
}
