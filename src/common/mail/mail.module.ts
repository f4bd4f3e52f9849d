import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { mailConfig } from '../../config/configuration.js';
import { LogMailer } from './log-mailer.js';
import { Mailer, type OutgoingMail } from './mailer.js';

/** Production without SMTP_URL: nothing can be sent. Callers check `mail.transport` first (forgot-password answers 503). */
class NoMailer extends Mailer {
  async send(_mail: OutgoingMail): Promise<void> {
    throw new Error('no SMTP_URL is configured: email cannot be sent');
  }
}

/**
 * The Mailer of the configuration: SMTP with SMTP_URL; without it the log (outside production) or none.
 * nodemailer is imported only when SMTP is configured (it is loaded by every start of the app and of
 * each CLI command otherwise).
 */
@Module({
  providers: [
    {
      provide: Mailer,
      inject: [mailConfig.KEY],
      useFactory: async (mail: ConfigType<typeof mailConfig>): Promise<Mailer> => {
        switch (mail.transport) {
          case 'smtp': {
            const { SmtpMailer } = await import('./smtp-mailer.js');
            return new SmtpMailer(mail.smtpUrl!, mail.from);
          }
          case 'log':
            return new LogMailer(mail.from);
          default:
            return new NoMailer();
        }
      },
    },
  ],
  exports: [Mailer],
})
export class MailModule {}
