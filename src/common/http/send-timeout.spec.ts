import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import { sendTimeout } from './send-timeout.js';

/** More than loopback's socket buffers take from a client that never reads (~4.5 MB here). */
const ANSWER_BYTES = 8 * 1024 * 1024;
/** Long enough that a busy CI machine's pauses do not look like a silent client to the slow reader below. */
const TIMEOUT_MS = 500;
/** More than loopback TCP buffers hold (receive up to 32 MiB, send up to 4 MiB by default on Linux). */
const UNBUFFERABLE_BYTES = 64 * 1024 * 1024;

type Handler = (res: ServerResponse) => void;

/** A plain HTTP server with the middleware in front of `handler`; `closed` resolves with each server-side socket's close. */
async function serve(handler: Handler): Promise<{ server: Server; port: number; closed: Promise<void>[] }> {
  const closed: Promise<void>[] = [];
  const middleware = sendTimeout(TIMEOUT_MS);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    middleware(req as Request, res as unknown as Response, (() => handler(res)) as NextFunction);
  });
  server.keepAliveTimeout = 60_000; // not what ends the connections below
  server.on('connection', (socket: Socket) => closed.push(once(socket, 'close').then(() => undefined)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, closed };
}

/** Sends a GET and reads `bytesPerTick` every 50 ms (0: never reads); resolves with the bytes read once the connection ends. */
function client(port: number, bytesPerTick: number): { socket: Socket; done: Promise<number> } {
  const socket = connect(port, '127.0.0.1');
  socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
  socket.pause();
  let read = 0;
  let budget = 0;
  const timer = bytesPerTick
    ? setInterval(() => {
        budget += bytesPerTick;
        socket.resume();
      }, 50)
    : undefined;
  socket.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read >= budget) socket.pause();
  });
  const done = new Promise<number>((resolve) =>
    socket.once('close', () => {
      clearInterval(timer);
      resolve(read);
    }),
  );
  return { socket, done };
}

const body = Buffer.alloc(ANSWER_BYTES, 0x61);
const answers: Array<[string, Handler]> = [
  // A pull: the whole answer handed over at once.
  ['end(body)', (res) => res.writeHead(200, { 'Content-Length': ANSWER_BYTES }).end(body)],
  // A download: piped, so write() returns false and the file stream waits.
  ['a piped stream', (res) => {
    res.writeHead(200, { 'Content-Length': ANSWER_BYTES });
    Readable.from((function* () {
      for (let i = 0; i < ANSWER_BYTES; i += 64 * 1024) yield body.subarray(i, i + 64 * 1024);
    })()).pipe(res);
  }],
];

describe('sendTimeout (a response whose client stopped reading is cut)', () => {
  let running: Server | undefined;
  afterEach(() => {
    running?.closeAllConnections();
    running?.close();
  });

  it.each(answers)('%s: a client that never reads is disconnected', async (_, handler) => {
    const { server, port, closed } = await serve(handler);
    running = server;
    const { socket, done } = client(port, 0);
    await once(socket, 'connect');
    // Without the middleware the server holds the unsent answer for good: give up waiting after 10 s.
    const cut = await Promise.race([closed[0].then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref())]);
    socket.destroy();
    expect(cut).toBe(true);
    expect(await done).toBe(0);
  });

  it.each(answers)('%s: a client that reads slowly, taking longer than the timeout in all, gets the whole answer', async (_, handler) => {
    const { server, port } = await serve(handler);
    running = server;
    // ~10 MB/s: ~0.8 s for the answer, longer than the timeout, but never silent for long.
    const { socket, done } = client(port, 512 * 1024);
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= ANSWER_BYTES) socket.end();
    });
    await done;
    expect(received).toBeGreaterThanOrEqual(ANSWER_BYTES);
  });

  // Found by review: Node hands the connection to a pipelined request's answer without setting a
  // keep-alive timeout, and the timer the answer ahead armed cut the server's work on it.
  it('a pipelined answer is not cut while the server works on it, and is cut once it waits for a client that stopped reading', async () => {
    const { server, port, closed } = await serve((res) => {
      if (res.req.url === '/first') res.writeHead(200, { 'Content-Length': ANSWER_BYTES }).end(body); // waits for the client: armed
      // Gets the connection once the first has gone out; the server works on it twice the timeout from then.
      else if (res.req.url === '/second') res.once('socket', () => setTimeout(() => res.end('second'), 2 * TIMEOUT_MS));
      // Written before it gets the connection; larger than the kernel can hold for a client that stopped
      // reading (its receive buffer grows up to net.ipv4.tcp_rmem's 32 MiB here, the server's send
      // buffer to 4 MiB): 8 MiB fitted there once the first answer had grown the buffers, the server then
      // waited for nothing, and the test failed on a slow day.
      else res.writeHead(200, { 'Content-Length': UNBUFFERABLE_BYTES }).end(Buffer.alloc(UNBUFFERABLE_BYTES, 0x61));
    });
    running = server;
    const accepted = once(server, 'connection');
    const socket = connect(port, '127.0.0.1');
    socket.write(['/first', '/second', '/third'].map((path) => `GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`).join(''));
    // Reads the first answer and the second, then stops reading.
    let second = false;
    let tail = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      if (!second && (tail + chunk).includes('\r\n\r\nsecond')) {
        second = true;
        socket.pause();
      }
      tail = (tail + chunk).slice(-64);
    });
    await accepted;
    const cut = await Promise.race([closed[0].then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref())]);
    socket.destroy();
    expect({ second, cut }).toEqual({ second: true, cut: true });
  });

  // Found by mutation testing: a timer left armed once the client had taken what was waiting passed every test.
  it('is disarmed once the client has taken what was waiting: the server may then take its time before writing again', async () => {
    const { server, port } = await serve((res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      // More than the socket buffers take at once: write() returns false and the timer is armed.
      expect(res.write(Buffer.alloc(ANSWER_BYTES, 0x61))).toBe(false);
      // The client took it all; the server works twice the timeout before its last write.
      res.once('drain', () => setTimeout(() => res.end('last'), 2 * TIMEOUT_MS));
    });
    running = server;
    const { socket } = client(port, 16 * 1024 * 1024);
    let tail = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-64);
      if (tail.includes('last')) socket.end();
    });
    await once(socket, 'close');
    expect(tail).toMatch(/last(\r\n0\r\n\r\n)?$/);
  });

  it('is not armed while the server itself takes its time, nor between the small writes of an event stream', async () => {
    const { server, port } = await serve((res) => {
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('data: first\n\n');
        setTimeout(() => res.end('data: last\n\n'), 2 * TIMEOUT_MS);
      }, 2 * TIMEOUT_MS);
    });
    running = server;
    const { socket } = client(port, 1024 * 1024);
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('data: last')) socket.end();
    });
    await once(socket, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 200[\s\S]*data: first[\s\S]*data: last/);
  });
});
