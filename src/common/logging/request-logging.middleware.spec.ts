import express from 'express';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { Logger as Pino } from 'pino';
import request from 'supertest';
import { sendTimeout } from '../http/send-timeout.js';
import { answerUnreadableRequestsInShape } from '../http/unreadable-request.js';
import { requestLogging } from './request-logging.middleware.js';

/** An Express app with the middleware and a logger that keeps what it is given. */
function appLogging() {
  const lines: Array<Record<string, unknown>> = [];
  const keep = (fields: Record<string, unknown>) => void lines.push(fields);
  const logger = { info: keep, warn: keep, error: keep } as unknown as Pino;
  const app = express();
  app.use(requestLogging(logger));
  app.get('/text', (_req, res) => void res.status(200).end('é'.repeat(50))); // no Content-Length set by the route
  app.get('/json', (_req, res) => void res.json({ hello: 'x'.repeat(20) }));
  app.get('/stream', (_req, res) => void Readable.from([Buffer.alloc(1000), Buffer.alloc(24)]).pipe(res));
  app.head('/file', (_req, res) => void res.setHeader('Content-Length', '69').end());
  app.get('/empty', (_req, res) => void res.status(204).end());
  app.get('/not-modified', (_req, res) => void res.status(304).end('stale body')); // Node sends no body with a 304
  /** The log line of the request just made (written on 'finish', after the client has its answer). */
  const last = async () => {
    for (let i = 0; i < 50 && !lines.length; i++) await new Promise((r) => setTimeout(r, 10));
    return lines.pop()!;
  };
  return { app, last };
}

describe('requestLogging', () => {
  it.each([
    ['/text', 'res.end(text) without a Content-Length header (a pull)', 100],
    ['/json', 'res.json', JSON.stringify({ hello: 'x'.repeat(20) }).length],
    ['/stream', 'a piped stream (a download)', 1024],
    ['/empty', 'a 204', 0],
    // Found by mutation testing: counting what a 304's route wrote (Node drops it) passed.
    ['/not-modified', 'a 304, whatever its route wrote', 0],
  ])('logs the body bytes sent: %s, %s', async (path, _what, bytes) => {
    const { app, last } = appLogging();
    await request(app).get(path);
    expect(await last()).toMatchObject({ method: 'GET', url: path, bytes });
  });

  it('logs 0 bytes for a HEAD, whatever length it declares', async () => {
    const { app, last } = appLogging();
    const res = await request(app).head('/file');
    expect(res.headers['content-length']).toBe('69');
    expect(await last()).toMatchObject({ method: 'HEAD', bytes: 0 });
  });
});

describe('requestLogging: the line of a completed request', () => {
  /** An app answering `?status=` with that status, and the lines logged with their level. */
  function appWithLevels() {
    const lines: Array<{ level: string; fields: Record<string, unknown> }> = [];
    const keep = (level: string) => (fields: Record<string, unknown>) => void lines.push({ level, fields });
    const app = express();
    app.use(requestLogging({ info: keep('info'), warn: keep('warn'), error: keep('error') } as unknown as Pino));
    app.get('/answer', (req, res) => void res.status(Number(req.query.status)).end());
    const last = async () => {
      for (let i = 0; i < 50 && !lines.length; i++) await new Promise((r) => setTimeout(r, 10));
      return lines.pop()!;
    };
    return { app, last };
  }

  // Found by mutation testing: only a token first in the query (token, access_token) was ever checked;
  // a redaction that missed refresh_token, or any token after another parameter, passed every test.
  it('logs the URL with every token of its query redacted, wherever it stands, and nothing else of it', async () => {
    const { app, last } = appWithLevels();
    await request(app).get('/answer?status=200&token=t1&refresh_token=r1&access_token=a1&tokens=kept');
    expect((await last()).fields.url).toBe('/answer?status=200&token=[redacted]&refresh_token=[redacted]&access_token=[redacted]&tokens=kept');
    await request(app).get('/answer?refresh_token=r2&status=200');
    expect((await last()).fields.url).toBe('/answer?refresh_token=[redacted]&status=200');
  });

  // Found by mutation testing: a 500 logged at warn (`status > 500`) passed every test.
  it.each([
    [200, 'info'],
    [399, 'info'],
    [400, 'warn'],
    [499, 'warn'],
    [500, 'error'],
    [503, 'error'],
  ])('logs a %i at %s', async (status, level) => {
    const { app, last } = appWithLevels();
    await request(app).get(`/answer?status=${status}`);
    expect(await last()).toEqual({ level, fields: expect.objectContaining({ status }) });
  });
});

describe('requestLogging: a request that never gets its answer is logged too', () => {
  /**
   * A server whose route answers only once the whole body has arrived, with Node's request timeout
   * at `requestTimeoutMs`, and the app's answer to what Node refuses (configureApp).
   */
  async function server(requestTimeoutMs: number) {
    const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
    const keep = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
    const logger = { info: keep('info'), warn: keep('warn'), error: keep('error') } as unknown as Pino;
    const app = express();
    let reachedRoute: () => void;
    const routed = new Promise<void>((resolve) => (reachedRoute = resolve));
    app.use(requestLogging(logger));
    app.post('/upload', (req, res) => {
      reachedRoute();
      req.resume();
      req.on('end', () => void res.status(201).end());
    });
    const http = createServer({ requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs, connectionsCheckingInterval: 50 }, app);
    answerUnreadableRequestsInShape(http, logger);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    /** Sends the headers of a 1000-byte upload and 10 bytes of its body; the rest never comes. */
    const startUpload = () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => void (answer += text));
      socket.write('POST /upload?token=secret HTTP/1.1\r\nHost: x\r\nX-Request-Id: upload-1\r\nContent-Length: 1000\r\n\r\n0123456789');
      return socket;
    };
    const logged = async () => {
      while (!lines.length) await new Promise((r) => setTimeout(r, 20));
      return lines;
    };
    let answer = '';
    return { startUpload, logged, routed, answer: () => answer, close: () => new Promise((r) => http.close(r)) };
  }

  it('cut by the request timeout (REQUEST_TIMEOUT_SECONDS): a warning with status 408 and the request id', async () => {
    const s = await server(300);
    const socket = s.startUpload();
    const lines = await s.logged();
    if (!socket.closed) await new Promise((r) => socket.once('close', r));
    await s.close();
    // The client gets the one error shape with its own request id; the request's line says 408, once.
    expect(s.answer()).toMatch(/^HTTP\/1\.1 408 [\s\S]*x-request-id: upload-1\r\n[\s\S]*"code":"MALFORMED_REQUEST"/);
    expect(lines).toEqual([
      {
        level: 'warn',
        fields: expect.objectContaining({ reqId: 'upload-1', method: 'POST', url: '/upload?token=[redacted]', status: 408 }),
        msg: expect.stringMatching(/timed out/),
      },
    ]);
  });

  it('the client hangs up before the answer: logged with no status', async () => {
    const s = await server(60_000);
    const socket = s.startUpload();
    await s.routed; // a socket closed before its request is parsed is no request, and logs nothing
    socket.destroy();
    const lines = await s.logged();
    await s.close();
    expect(lines).toEqual([
      {
        level: 'info',
        fields: expect.objectContaining({ reqId: 'upload-1', method: 'POST', url: '/upload?token=[redacted]', status: null }),
        msg: expect.stringMatching(/closed the connection/),
      },
    ]);
  });

  it('cut by the send timeout (SEND_TIMEOUT_SECONDS: the client stopped reading): a warning with the status it was sent', async () => {
    const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
    const keep = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
    const app = express();
    app.use(requestLogging({ info: keep('info'), warn: keep('warn'), error: keep('error') } as unknown as Pino));
    app.use(sendTimeout(300));
    // More than loopback's socket buffers take from a client that never reads.
    app.get('/pull', (_req, res) => void res.status(200).end(Buffer.alloc(8 * 1024 * 1024)));
    const http = createServer(app);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const socket = connect((http.address() as AddressInfo).port, '127.0.0.1');
    socket.pause(); // never reads
    socket.write('GET /pull HTTP/1.1\r\nHost: x\r\nX-Request-Id: pull-1\r\n\r\n');
    while (!lines.length) await new Promise((r) => setTimeout(r, 20));
    socket.destroy();
    await new Promise((r) => http.close(r));
    expect(lines).toEqual([
      { level: 'warn', fields: expect.objectContaining({ reqId: 'pull-1', url: '/pull', status: 200 }), msg: expect.stringMatching(/stopped reading the answer \(SEND_TIMEOUT_SECONDS\)/) },
    ]);
  });
});
