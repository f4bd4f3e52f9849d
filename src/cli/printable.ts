/**
 * What a terminal acts on instead of showing: C0 and C1 controls and DEL (a line break, a carriage
 * return, ESC and CSI starting a command), and what reorders the text shown around it (line and
 * paragraph separators, bidi embeddings, overrides and isolates).
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text a user of the app wrote (a member's name or email, a patient field), as a CLI prints it for a
 * person to read: those characters written as escapes (`\n`, `\u001b`). The API stores them (a name
 * or a patient field may hold any character but NUL; an email's quoted local part, control
 * characters), and printed as they were, a member named "x\r\x1b[2K    owner  …" showed in
 * family:show as an owner line with another email and id, and an email could set the terminal's
 * title (found by review). `--json` output is JSON's own escaping.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
