/** One email, as the app writes it: plain text, and the same as HTML for mail apps that show links only there. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * Sends email. Two implementations, chosen by configuration (MailModule): SMTP (SMTP_URL), and
 * outside production without it, the log. A send that fails rejects; the caller decides what a lost
 * email means.
 */
export abstract class Mailer {
  abstract send(mail: OutgoingMail): Promise<void>;
}
