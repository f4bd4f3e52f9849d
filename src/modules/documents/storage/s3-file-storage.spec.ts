import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { type FileStorage, StorageUnavailableError } from './file-storage.js';
import { LocalFileStorage } from './local-file-storage.js';
import { S3FileStorage } from './s3-file-storage.js';

/**
 * Which failures of the store are an outage (StorageUnavailableError: 503 STORAGE_UNAVAILABLE,
 * files:cleanup stops) and which stay what they are, against real servers on 127.0.0.1: a closed
 * port, a server that accepts connections and never answers, and HTTP servers answering S3 errors.
 */
async function listening(server: Server): Promise<number> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

function s3At(port: number): S3FileStorage {
  return new S3FileStorage({
    bucket: 'hemoday',
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: 'key',
    secretAccessKey: 'secret',
    forcePathStyle: true,
    timeoutSeconds: 1,
  });
}

/** An HTTP server answering every request with `status` and an S3 error document of `code`. */
function s3ErrorServer(status: number, code: string): Server {
  return createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(req.method === 'HEAD' ? undefined : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} from the test server</Message></Error>`);
    });
  });
}

async function failure(work: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

async function drain(entries: AsyncIterable<unknown>): Promise<void> {
  for await (const entry of entries) void entry;
}

const key = () => `${randomUUID()}/${randomUUID()}`;

describe('S3 driver: storage that is down is StorageUnavailableError; anything else stays what it is', () => {
  const opened: Array<{ storage?: FileStorage; close: () => Promise<void> | void }> = [];
  afterAll(async () => {
    for (const { storage, close } of opened) {
      (storage as S3FileStorage | undefined)?.onModuleDestroy();
      await close();
    }
  });

  it('a refused connection: every operation (reason: the operation, the socket error, the attempts)', async () => {
    const probe = createServer();
    const port = await listening(probe);
    await new Promise<void>((done) => probe.close(() => done()));
    const storage = s3At(port);
    opened.push({ storage, close: () => undefined });
    const errors = {
      put: await failure(storage.put(key(), Readable.from([Buffer.from('%PDF-1.4\n')]))),
      get: await failure(storage.get(key())),
      stat: await failure(storage.stat(key())),
      delete: await failure(storage.delete(key())),
      list: await failure(() => drain(storage.list())),
    };
    for (const [operation, error] of Object.entries(errors)) {
      expect({ operation, unavailable: error instanceof StorageUnavailableError }).toEqual({ operation, unavailable: true });
    }
    expect((errors.get as StorageUnavailableError).reason).toMatch(/^GetObject: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(3 attempts\)$/);
    expect((errors.list as StorageUnavailableError).reason).toMatch(/^ListObjectsV2: connect ECONNREFUSED/);
    expect(errors.get).toMatchObject({ code: 'STORAGE_UNAVAILABLE', status: 503, details: { retryAfterSeconds: 30 } });
  });

  // Concurrent (after the refused port's test, which no other server may take meanwhile): each test has
  // servers and storages of its own, and most of its time is waiting out timeouts and the SDK's retry delays.
  it.concurrent('a server that accepts the connection and never answers: S3_TIMEOUT_SECONDS of silence ends each attempt', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.resume();
    });
    const port = await listening(silent);
    const storage = s3At(port);
    opened.push({
      storage,
      close: () => {
        sockets.forEach((s) => s.destroy());
        return new Promise<void>((done) => silent.close(() => done()));
      },
    });
    const error = await failure(storage.get(key()));
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).reason).toMatch(/^GetObject: the request socket timed out after 1000 ms of inactivity.*\(3 attempts\)$/);
  });

  it.concurrent('once the store has answered, a download whose reader pauses longer than S3_TIMEOUT_SECONDS is not cut: the phone sets the pace', async () => {
    // A store that sends the first half, then nothing for 1.5 s (the timeout is 1 s), as a connection
    // held back by a phone that stopped reading is silent, then the rest.
    const half = Buffer.alloc(64 * 1024, 1);
    const slow = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(2 * half.length) });
      res.write(half);
      setTimeout(() => res.end(half), 1500);
    });
    const storage = s3At(await listening(slow));
    opened.push({ storage, close: () => new Promise<void>((done) => slow.close(() => done())) });
    const chunks: Buffer[] = [];
    for await (const chunk of await storage.get(key())) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(Buffer.concat([half, half]))).toBe(true);
  });

  // Found in review: a store ignoring Range answers 200 with the whole object, and its first bytes were served as
  // the part asked, spliced into a resumed download at the wrong offset.
  it.concurrent('a store that ignores Range: the part is refused, never the object\'s first bytes in its place', async () => {
    const object = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const rangeless = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(object.length) });
      res.end(object);
    });
    const storage = s3At(await listening(rangeless));
    opened.push({ storage, close: () => new Promise<void>((done) => rangeless.close(() => done())) });
    const error = await failure(storage.get(key(), { start: 10, end: 19 }));
    expect(error).not.toBeInstanceOf(StorageUnavailableError);
    expect((error as Error).message).toMatch(/answered Content-Range null to Range bytes=10-19: it does not serve byte ranges/);
    // Nor the last bytes (a resumed download's usual range), though the whole object is exactly as long as the range's end.
    const tail = await failure(storage.get(key(), { start: 90, end: 99 }));
    expect((tail as Error).message).toMatch(/answered Content-Range null to Range bytes=90-99: it does not serve byte ranges/);
    // The whole object is the whole answer, ranged or not (a range over all of it, answered 200, is right).
    for (const range of [undefined, { start: 0, end: object.length - 1 }]) {
      const whole: Buffer[] = [];
      for await (const chunk of await storage.get(key(), range)) whole.push(chunk as Buffer);
      expect(Buffer.concat(whole).equals(object)).toBe(true);
    }
  });

  it.concurrent('5xx and SlowDown, once the retries are spent, are unavailable; 403 AccessDenied is not (a configuration error: a 500)', async () => {
    const slowDown = s3ErrorServer(503, 'SlowDown');
    const internal = s3ErrorServer(500, 'InternalError');
    const denied = s3ErrorServer(403, 'AccessDenied');
    const storages = await Promise.all([slowDown, internal, denied].map(async (server) => s3At(await listening(server))));
    for (const [i, server] of [slowDown, internal, denied].entries()) {
      opened.push({ storage: storages[i], close: () => new Promise<void>((done) => server.close(() => done())) });
    }
    const [throttled, failing, refused] = storages;

    const slow = await failure(throttled.get(key()));
    expect(slow).toBeInstanceOf(StorageUnavailableError);
    expect((slow as StorageUnavailableError).reason).toMatch(/^GetObject: HTTP 503 SlowDown: SlowDown from the test server \(3 attempts\)$/);
    expect(await failure(throttled.stat(key()))).toBeInstanceOf(StorageUnavailableError);
    const broken = await failure(failing.delete(key()));
    expect(broken).toBeInstanceOf(StorageUnavailableError);
    expect((broken as StorageUnavailableError).reason).toMatch(/^DeleteObject: HTTP 500 InternalError/);

    const forbidden = await failure(refused.get(key()));
    expect(forbidden).not.toBeInstanceOf(StorageUnavailableError);
    expect(forbidden).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  });

  it('the local driver says unavailable only below UPLOAD_MIN_FREE_BYTES: a disk error stays the error it is (a 500)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hemoday-local-unavailable-'));
    opened.push({ close: () => rmSync(root, { recursive: true, force: true }) });
    const folder = randomUUID();
    writeFileSync(join(root, folder), 'a file where the family folder should be');
    const error = await failure(new LocalFileStorage(root).put(`${folder}/${randomUUID()}`, Readable.from([Buffer.from('%PDF-1.4\n')])));
    expect(error).not.toBeInstanceOf(StorageUnavailableError);
    expect(error).toMatchObject({ code: expect.stringMatching(/^E/) });
  });
});
