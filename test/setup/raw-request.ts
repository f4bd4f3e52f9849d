import { once } from 'node:events';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { MAX_DRAIN_BYTES } from '../../src/common/http/discard-body.js';
import type { TestApp } from './test-app.js';

const MiB = 1024 * 1024;
/** The most a server may read of a body it refuses unread: its first socket reads (~200 KiB seen). */
export const UNREAD_MAX_BYTES = MiB;
/** The most a server may read of a body it refuses midway: what came before, MAX_DRAIN_BYTES of draining, socket reads in flight. */
export const DRAINED_MAX_BYTES = MAX_DRAIN_BYTES + 2 * MiB;

export interface RawAnswer {
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: string;
  /** The connection failed before an answer was read (EPIPE/ECONNRESET after the server closed it). */
  error?: string;
  /**
   * Body bytes the client wrote before the answer (or the failure) arrived. Includes what the
   * kernel's socket buffers took without the server reading it (on Linux loopback the receive
   * buffer alone may grow to tcp_rmem's maximum, 32 MiB here): not a measure of what the server read.
   */
  sent: number;
  /** Bytes the server's side of this connection read (headers included), once it closed or 2 s after the answer. */
  serverRead: number;
}

/**
 * One request over a fresh connection, written chunk by chunk until the server answers (or
 * `total` bytes are sent): what a client sees when the server answers before reading the body.
 * `declaredLength` sends a Content-Length instead of chunked encoding; `chunk` is what is written
 * (repeated), JSON whitespace by default; `prefix` is written before the chunks and `suffix` ends the
 * body (neither counts in `sent`). `deadlineMs`: give up then (error 'TIMEOUT') instead of waiting for
 * an answer that may never come. `agent`: by default a keep-alive connection of its own, as a phone's
 * HTTP client makes it: without an agent (`agent: false`) Node's client sends `Connection: close`
 * itself and the server echoes it, so a check that the server closes the connection after refusing
 * a body could not fail (found by mutation testing).
 */
export async function rawRequest(
  t: Pick<TestApp, 'baseUrl' | 'app'>,
  options: { method: string; path: string; headers?: Record<string, string>; total: number; declaredLength?: number; chunk?: Buffer; prefix?: string; suffix?: string; agent?: Agent | false; deadlineMs?: number },
): Promise<RawAnswer> {
  const ownAgent = options.agent === undefined ? new Agent({ keepAlive: true }) : undefined;
  try {
    return await send(t, { ...options, agent: options.agent ?? ownAgent! });
  } finally {
    ownAgent?.destroy();
  }
}

async function send(t: Pick<TestApp, 'baseUrl' | 'app'>, options: Parameters<typeof rawRequest>[1] & { agent: Agent | false }): Promise<RawAnswer> {
  const url = new URL(t.baseUrl);
  const server = t.app.getHttpServer() as Server;
  const accepted = new Map<number, Socket>();
  const track = (socket: Socket) => accepted.set(socket.remotePort!, socket);
  server.on('connection', track);
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    method: options.method,
    path: options.path,
    agent: options.agent,
    headers: {
      'Content-Type': 'application/json',
      ...(options.declaredLength !== undefined ? { 'Content-Length': String(options.declaredLength) } : {}),
      ...options.headers,
    },
  });
  let clientPort: number | undefined;
  req.on('socket', (socket) => socket.once('connect', () => (clientPort = socket.localPort)));
  req.on('error', () => undefined); // EPIPE/ECONNRESET after the answer, when we keep writing
  let answer: Omit<RawAnswer, 'sent' | 'serverRead'> | undefined;
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
  const serverSide = clientPort === undefined ? undefined : accepted.get(clientPort);
  server.off('connection', track);
  if (!serverSide) throw new Error(`rawRequest: the server never accepted this connection (client port ${clientPort})`);
  // Whatever the server still reads after answering counts too: wait for its side to close (it does
  // after `Connection: close`; at most 2 s). A connection kept alive has had its body read whole.
  if (!serverSide.destroyed && answer!.headers?.connection !== 'keep-alive') await Promise.race([once(serverSide, 'close'), new Promise((r) => setTimeout(r, 2_000))]);
  req.destroy();
  return { ...answer!, sent, serverRead: serverSide.bytesRead };
}
