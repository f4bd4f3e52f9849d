import { createTransport } from 'nodemailer';
import { Mailer, type OutgoingMail } from './mailer.js';

/**
 * Timeouts of one SMTP conversation. nodemailer's defaults (2 min to connect, 10 min of silence)
 * would keep a send — and the app's shutdown, which waits for sends in flight — hanging on a mail
 * server that stopped answering.
 */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000, dnsTimeout: 10_000 };

/** Sends through the SMTP server of SMTP_URL (smtp:// upgrades with STARTTLS when offered; smtps:// is TLS from the start). */
export class SmtpMailer extends Mailer {
  private readonly transport;

  constructor(url: string, private readonly from: string) {
    super();
    this.transport = createTransport({ url, ...SMTP_TIMEOUTS });
  }

  async send(mail: OutgoingMail): Promise<void> {
    await this.transport.sendMail({ from: this.from, ...mail });
  }
}
