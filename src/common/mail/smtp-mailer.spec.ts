import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { SmtpMailer, smtpTransportOptions } from './smtp-mailer.js';

/** A mail server on 127.0.0.1 that offers no STARTTLS (as one whose offer a man in the middle removed), counting the logins and messages it gets. */
async function serverWithoutStarttls() {
  const seen = { logins: 0, messages: 0 };
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      seen.logins++;
      callback(null, { user: auth.username });
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        seen.messages++;
        callback();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port));
  });
  return { port, seen, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const MAIL = { to: 'leila@example.test', subject: 'Reset your HemoDay password', text: 'a link', html: '<p>a link</p>' };

// Found by review: smtp:// took STARTTLS only when the server offered it, so whoever sat between the
// app and a mail server across the network could remove the offer and read the SMTP password (AUTH
// in plain text) and every reset link (an account takeover each).
describe('SmtpMailer: TLS', () => {
  it('smtp:// to a server across the network requires STARTTLS; a relay on the loopback and smtps:// (TLS from the start) do not', () => {
    for (const remote of ['smtp://user:pass@mail.example.com:587', 'smtp://10.0.0.5:25', 'smtp://[fd00::5]:25', 'smtp://127.mail.example.com:25']) {
      expect({ remote, requireTLS: smtpTransportOptions(remote).requireTLS }).toEqual({ remote, requireTLS: true });
    }
    for (const local of ['smtp://127.0.0.1:25', 'smtp://127.0.0.53:25', 'smtp://LocalHost:25', 'smtp://[::1]:25', 'smtps://user:pass@mail.example.com:465']) {
      expect({ local, requireTLS: smtpTransportOptions(local).requireTLS }).toEqual({ local, requireTLS: false });
    }
  });

  it("the mailer's SMTP transport takes that rule, and a ?requireTLS=false in SMTP_URL (a relay on a private network without TLS) turns it off", () => {
    const requireTLS = (url: string) => (new SmtpMailer(url, 'no-reply@example.test') as unknown as { transport: { transporter: { options: { requireTLS?: boolean } } } }).transport.transporter.options.requireTLS;
    expect(requireTLS('smtp://user:pass@mail.example.com:587')).toBe(true);
    expect(requireTLS('smtp://user:pass@relay.internal:25?requireTLS=false')).toBe(false);
    expect(requireTLS('smtp://127.0.0.1:25')).toBe(false);
  });

  it('where TLS is required, a server without STARTTLS gets neither the login nor the email; ?requireTLS in SMTP_URL decides over the default', async () => {
    const server = await serverWithoutStarttls();
    try {
      const url = `smtp://hemoday:smtp-password@127.0.0.1:${server.port}`;
      await expect(new SmtpMailer(`${url}?requireTLS=true`, 'no-reply@example.test').send(MAIL)).rejects.toThrow();
      expect(server.seen).toEqual({ logins: 0, messages: 0 });
      await new SmtpMailer(url, 'no-reply@example.test').send(MAIL); // a relay on the loopback
      expect(server.seen).toEqual({ logins: 1, messages: 1 });
    } finally {
      await server.stop();
    }
  });
});
