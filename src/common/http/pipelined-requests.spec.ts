import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { carryOutPipelinedRequestsInTurn } from './pipelined-requests.js';

/**
 * A plain HTTP server with the middleware in front of a handler that records each request it carries
 * out and leaves the answer to the test. `received` records every request Node hands to the server,
 * before the middleware sees it: proof that a request arrived, whether or not it was carried out.
 */
async function serve(): Promise<{ server: Server; port: number; received: string[]; carriedOut: Array<{ url: string; res: ServerResponse }> }> {
  const received: string[] = [];
  const carriedOut: Array<{ url: string; res: ServerResponse }> = [];
  const server = createServer();
  server.on('request', (req: IncomingMessage) => received.push(req.url!));
  server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    carryOutPipelinedRequestsInTurn(
      Object.assign(req, { originalUrl: req.url }) as Request, // as Express sets it
      res as unknown as Response,
      (() => carriedOut.push({ url: req.url!, res })) as NextFunction,
    ),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, received, carriedOut };
}

/** Resolves once `check` holds, looking again at each turn of the event loop. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

/** Everything the connection receives until it closes. */
function collect(socket: Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  return once(socket, 'close').then(() => text);
}

describe('carryOutPipelinedRequestsInTurn', () => {
  let server: Server;
  afterEach(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });

  it('carries out a request pipelined behind another only once the answer ahead of it has gone out, in order', async () => {
    const s = await serve();
    server = s.server;
    const socket = connect(s.port, '127.0.0.1');
    const answers = collect(socket);
    socket.write(['/first', '/second', '/third'].map((url) => `GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    await until(() => s.received.length === 3);
    // All three arrived; only the first is carried out (Node would have handed over all three at once).
    expect(s.carriedOut.map((r) => r.url)).toEqual(['/first']);
    s.carriedOut[0].res.end('one');
    await until(() => s.carriedOut.length === 2);
    expect(s.carriedOut.map((r) => r.url)).toEqual(['/first', '/second']);
    s.carriedOut[1].res.end('two');
    await until(() => s.carriedOut.length === 3);
    s.carriedOut[2].res.setHeader('Connection', 'close');
    s.carriedOut[2].res.end('three');
    expect((await answers).match(/\r\n\r\n(one|two|three)/g)).toEqual(['\r\n\r\none', '\r\n\r\ntwo', '\r\n\r\nthree']);
  });

  it('a request waiting behind an answer whose connection closes is never carried out', async () => {
    const s = await serve();
    server = s.server;
    const socket = connect(s.port, '127.0.0.1');
    const closed = collect(socket);
    socket.write('GET /download HTTP/1.1\r\nHost: x\r\n\r\nPOST /sync HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}');
    await until(() => s.received.length === 2);
    // The waiting request listens for this answer's close first, so it has had its turn once this resolves.
    const downloadClosed = once(s.carriedOut[0].res, 'close');
    socket.destroy(); // the phone went away while its download was under way
    await Promise.all([closed, downloadClosed]);
    expect(s.carriedOut.map((r) => r.url)).toEqual(['/download']); // the pipelined push was not applied
  });

  it('requests one after another on a kept-alive connection (no pipelining) are carried out at once', async () => {
    const s = await serve();
    server = s.server;
    const socket = connect(s.port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => s.carriedOut.length === 1);
    s.carriedOut[0].res.end('a');
    await until(() => text.endsWith('\r\n\r\na'));
    socket.write('GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await until(() => s.carriedOut.length === 2);
    s.carriedOut[1].res.end('b');
    await once(socket, 'close');
    expect(s.carriedOut.map((r) => r.url)).toEqual(['/a', '/b']);
  });
});
