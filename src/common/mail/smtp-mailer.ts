import { createTransport } from 'nodemailer';
import { Mailer, type OutgoingMail } from './mailer.js';

/**
 * Timeouts of one SMTP conversation. nodemailer's defaults (2 min to connect, 10 min of silence)
 * would keep a send — and the app's shutdown, which waits for sends in flight — hanging on a mail
 * server that stopped answering.
 */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000, dnsTimeout: 10_000 };

/** A host whose connection never leaves the machine (a local relay): plain text there crosses no network. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * nodemailer's options for SMTP_URL. smtp:// to a server across the network requires STARTTLS
 * (`requireTLS`): taken only when offered, whoever sat between the app and the mail server could
 * remove the offer and read the SMTP password (AUTH in plain text) and every reset link (found by
 * review). A relay on the loopback is spoken to in plain text, as it usually offers no TLS, and
 * smtps:// is TLS from the first byte. A `?requireTLS=true|false` in SMTP_URL decides instead
 * (nodemailer puts the URL's query over these options).
 */
export function smtpTransportOptions(url: string) {
  const { protocol, hostname } = new URL(url);
  return { url, ...SMTP_TIMEOUTS, requireTLS: protocol === 'smtp:' && !isLoopback(hostname) };
}

/** Sends through the SMTP server of SMTP_URL (smtp:// with STARTTLS, required but on the loopback; smtps:// is TLS from the start). */
export class SmtpMailer extends Mailer {
  private readonly transport;

  constructor(url: string, private readonly from: string) {
    super();
    this.transport = createTransport(smtpTransportOptions(url));
  }

  async send(mail: OutgoingMail): Promise<void> {
    await this.transport.sendMail({ from: this.from, ...mail });
  }
}
