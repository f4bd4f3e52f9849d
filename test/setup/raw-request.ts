import { once } from 'node:events';
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';

export interface RawAnswer {
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: string;
  /** The connection failed before an answer was read (EPIPE/ECONNRESET after the server closed it). */
  error?: string;
  /** Body bytes written before the answer (or the failure) arrived. */
  sent: number;
  ms: number;
}

/**
 * One request over a fresh connection, written chunk by chunk until the server answers (or
 * `total` bytes are sent): what a client sees when the server answers before reading the body.
 * `declaredLength` sends a Content-Length instead of chunked encoding; `chunk` is what is written
 * (repeated), JSON whitespace by default; `prefix` is written before the chunks and `suffix` ends the
 * body (neither counts in `sent`). `deadlineMs`: give up then (error 'TIMEOUT') instead of waiting for
 * an answer that may never come.
 */
export async function rawRequest(
  baseUrl: string,
  options: { method: string; path: string; headers?: Record<string, string>; total: number; declaredLength?: number; chunk?: Buffer; prefix?: string; suffix?: string; agent?: Agent | false; deadlineMs?: number },
): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  const started = Date.now();
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    method: options.method,
    path: options.path,
    agent: options.agent ?? false,
    headers: {
      'Content-Type': 'application/json',
      ...(options.declaredLength !== undefined ? { 'Content-Length': String(options.declaredLength) } : {}),
      ...options.headers,
    },
  });
  req.on('error', () => undefined); // EPIPE/ECONNRESET after the answer, when we keep writing
  let answer: Omit<RawAnswer, 'sent' | 'ms'> | undefined;
  const answered = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => ((answer = { status: res.statusCode, headers: res.headers, body }), resolve()));
      res.on('error', () => ((answer ??= { status: res.statusCode, headers: res.headers }), resolve()));
    });
    req.on('error', (error: NodeJS.ErrnoException) => ((answer ??= { error: error.code }), resolve()));
    if (options.deadlineMs !== undefined) setTimeout(() => ((answer ??= { error: 'TIMEOUT' }), resolve()), options.deadlineMs).unref();
  });
  if (options.prefix) req.write(options.prefix);
  const chunk = options.chunk ?? Buffer.alloc(256 * 1024, 0x20); // JSON whitespace: a valid prefix of any body
  let sent = 0;
  while (!answer && sent < options.total) {
    const piece = chunk.subarray(0, Math.min(chunk.length, options.total - sent));
    const flowing = req.write(piece);
    sent += piece.length;
    if (!flowing) await Promise.race([once(req, 'drain'), answered]);
  }
  if (!answer) req.end(options.suffix);
  await answered;
  req.destroy();
  return { ...answer!, sent, ms: Date.now() - started };
}
