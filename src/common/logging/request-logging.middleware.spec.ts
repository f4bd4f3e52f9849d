import express from 'express';
import { Readable } from 'node:stream';
import type { Logger as Pino } from 'pino';
import request from 'supertest';
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
