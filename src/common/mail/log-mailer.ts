import { Logger } from '@nestjs/common';
import { Mailer, type OutgoingMail } from './mailer.js';

/**
 * Development and tests without SMTP_URL: the email is written to the log at info level instead of
 * being sent, so that the flows that email a link work on a fresh machine (copy the link from the
 * log). It is the one log line that holds an email address and a secret (the link): never used in
 * production, where no SMTP_URL means no email at all.
 */
export class LogMailer extends Mailer {
  private readonly logger = new Logger('Mail');

  constructor(private readonly from: string) {
    super();
  }

  async send(mail: OutgoingMail): Promise<void> {
    this.logger.log({ mail: { from: this.from, to: mail.to, subject: mail.subject, text: mail.text } }, 'email not sent (no SMTP_URL): written here instead');
  }
}
