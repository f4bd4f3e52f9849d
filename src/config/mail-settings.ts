/**
 * The rules of the mail settings (SMTP_URL, MAIL_FROM, PASSWORD_RESET_URL), shared by the start-up
 * validation and the code that uses them.
 */

/** Where `{token}` goes in PASSWORD_RESET_URL. */
const TOKEN_PLACEHOLDER = '{token}';

/** Schemes a browser or mail app runs or reads locally instead of opening: never a reset link. */
const REFUSED_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:']);

/** Why SMTP_URL is not usable, or undefined. The value holds a password: the message never repeats it. */
export function smtpUrlProblem(value: unknown): string | undefined {
  const problem =
    'SMTP_URL must be an smtp:// or smtps:// URL with a host, e.g. smtp://user:password@mail.example.com:587 ' +
    '(smtps:// for TLS from the first byte, usually port 465; percent-encode special characters of the user and password)';
  if (typeof value !== 'string') return problem;
  try {
    const url = new URL(value);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname ? undefined : problem;
  } catch {
    return problem;
  }
}

/** `HemoDay <no-reply@example.com>` or `no-reply@example.com`. */
const MAILBOX = /^(?:[^<>\r\n]*<[^<>\s@]+@[^<>\s@]+\.[^<>\s@]+>|[^<>\s@]+@[^<>\s@]+\.[^<>\s@]+)$/;

export function mailFromProblem(value: unknown): string | undefined {
  return typeof value === 'string' && MAILBOX.test(value.trim())
    ? undefined
    : 'MAIL_FROM must be an address, optionally with a name: no-reply@example.com or HemoDay <no-reply@example.com>';
}

/**
 * Why PASSWORD_RESET_URL is not a usable link template, or undefined: an absolute URL (https, or the
 * app's own scheme such as hemoday://; http only outside production) with `{token}` exactly once.
 */
export function passwordResetUrlProblem(value: unknown, production: boolean): string | undefined {
  const usage =
    'PASSWORD_RESET_URL must be an absolute URL with {token} where the reset token goes, once, ' +
    'e.g. https://app.example.com/reset-password?token={token} or hemoday://reset-password?token={token}';
  if (typeof value !== 'string' || value.split(TOKEN_PLACEHOLDER).length !== 2) return usage;
  let url: URL;
  try {
    url = new URL(value.replace(TOKEN_PLACEHOLDER, 'token'));
  } catch {
    return usage;
  }
  if (REFUSED_SCHEMES.has(url.protocol)) return `${usage}; ${url.protocol} links are refused`;
  if (production && url.protocol === 'http:') {
    return 'PASSWORD_RESET_URL must not be http:// when NODE_ENV=production: the link carries the reset token (use https:// or the app\'s own scheme)';
  }
  return undefined;
}

/** The link emailed for a reset token (base64url: safe anywhere in a URL as it is). */
export function resetLink(template: string, token: string): string {
  return template.replace(TOKEN_PLACEHOLDER, token);
}
