import { SMTPServer } from 'smtp-server';

/** One message the server accepted: the SMTP envelope, the user who authenticated, and the message as parsed. */
export interface ReceivedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  authUser: string | undefined;
  headers: Record<string, string>;
  /** The text/plain and text/html bodies, decoded. */
  text: string;
  html: string;
  raw: string;
}

export interface TestSmtpServer {
  /** smtp://user:password@127.0.0.1:<port>: what SMTP_URL is set to. */
  url: string;
  /** Every message received so far, oldest first. */
  received: ReceivedMail[];
  stop(): Promise<void>;
}

export const SMTP_USER = 'hemoday-mailer';
export const SMTP_PASSWORD = 'smtp p@ss/word';

/**
 * A real SMTP server (the `smtp-server` package) on 127.0.0.1, on a free port, that accepts mail
 * for any address (but those `refuseRecipient` picks) from a client that logs in with SMTP_USER /
 * SMTP_PASSWORD, and keeps it. Plain
 * SMTP (no STARTTLS: the test has no certificate the client would trust), so AUTH is allowed
 * without TLS.
 */
export async function startSmtpServer(options: { refuseRecipient?: (address: string) => boolean } = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) return callback(null, { user: auth.username });
      return callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, callback) {
      // As a real server refuses an unknown mailbox: its reply quotes the address.
      if (options.refuseRecipient?.(address.address)) return callback(Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected`), { responseCode: 550 }));
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          authUser: session.user as string | undefined,
          ...parseMessage(raw),
          raw,
        });
        callback();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as { port: number }).port));
  });
  const credentials = `${encodeURIComponent(SMTP_USER)}:${encodeURIComponent(SMTP_PASSWORD)}`;
  return {
    url: `smtp://${credentials}@127.0.0.1:${port}`,
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Headers (names lower-cased, folded lines joined) and the body of one MIME entity. */
function splitEntity(entity: string): { headers: Record<string, string>; body: string } {
  const at = entity.indexOf('\r\n\r\n');
  const head = at < 0 ? entity : entity.slice(0, at);
  const body = at < 0 ? '' : entity.slice(at + 4);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'quoted-printable':
      return Buffer.from(
        body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      ).toString('utf8');
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
}

/** Enough MIME for what nodemailer writes: one text part, or multipart/alternative of text and HTML. */
function parseMessage(raw: string): { headers: Record<string, string>; text: string; html: string } {
  const { headers, body } = splitEntity(raw);
  const parts: Array<{ headers: Record<string, string>; body: string }> = [];
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (boundary) {
    for (const piece of body.split(`--${boundary}`).slice(1)) {
      if (piece.startsWith('--')) break;
      parts.push(splitEntity(piece.replace(/^\r\n/, '')));
    }
  } else {
    parts.push({ headers, body });
  }
  const find = (type: string) => {
    const part = parts.find((p) => (p.headers['content-type'] ?? 'text/plain').toLowerCase().startsWith(type));
    return part ? decodeBody(part.body.replace(/\r\n$/, ''), part.headers['content-transfer-encoding']) : '';
  };
  return { headers, text: find('text/plain'), html: find('text/html') };
}
