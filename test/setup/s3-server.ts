import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A path-style client on the server, for checking what the app stored. */
  client: S3Client;
  /**
   * While true, AbortMultipartUpload answers 403 AccessDenied, as S3 does for credentials whose
   * policy lacks s3:AbortMultipartUpload.
   */
  refuseAborts: boolean;
  /**
   * Called with every request before s3rver handles it (unset: none): a store failing or slow on
   * cue. An answer it returns is sent instead (the request's body read and dropped first); until it
   * resolves, the request waits.
   */
  intercept: ((request: InterceptedRequest) => Promise<{ status: number; code: string } | undefined>) | undefined;
  stop(): Promise<void>;
}

/** What `intercept` sees of a request (path-style: the key without the bucket). */
export interface InterceptedRequest {
  method: string;
  key: string;
  query: Record<string, string | string[] | undefined>;
}

/** What the multipart middleware below uses of a Koa context. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
  req: AsyncIterable<unknown>;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
/** What the middleware uses of s3rver beyond its typings: Koa's middleware list and the filesystem store. */
interface S3rverInternals {
  middleware: KoaMiddleware[];
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
}

const xmlEscape = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * s3rver implements multipart uploads but neither AbortMultipartUpload (405 MethodNotAllowed) nor
 * ListMultipartUploads (501 NotImplemented): an aborted upload kept its parts, and a test could not
 * see an incomplete upload at all. Both are added here, on s3rver's own store (an upload is a folder
 * `<uploads>/<uploadId>` holding a `key` file and the parts), in front of its router, as real S3
 * answers them. Path-style requests only, unauthenticated (a test server).
 */
function letS3rverAbortAndListUploads(server: S3rver, state: Pick<TestS3Server, 'refuseAborts' | 'intercept'>): void {
  const { middleware, store } = server as unknown as S3rverInternals;
  const uploadsOf = (bucket: string) => store.getResourcePath(bucket, undefined, 'uploads');
  const error = (ctx: KoaContext, status: number, code: string, message: string) => {
    ctx.status = status;
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
  };
  const uploads = async (bucket: string) => {
    const ids = await readdir(uploadsOf(bucket)).catch(() => []);
    return Promise.all(ids.map(async (id) => ({ id, key: await readFile(join(uploadsOf(bucket), id, 'key'), 'utf8') })));
  };
  const multipart: KoaMiddleware = async (ctx, next) => {
    const [, bucket, ...rest] = ctx.path.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const { uploadId } = ctx.query;
    const answer = await state.intercept?.({ method: ctx.method, key, query: ctx.query });
    if (answer) {
      for await (const _ of ctx.req); // read and dropped, so that the client gets the answer rather than a reset
      return error(ctx, answer.status, answer.code, answer.code);
    }
    if (ctx.method === 'DELETE' && key && typeof uploadId === 'string') {
      if (state.refuseAborts) return error(ctx, 403, 'AccessDenied', 'Access Denied');
      const upload = (await uploads(bucket)).find((u) => u.id === uploadId && u.key === key);
      if (!upload) return error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
      await rm(join(uploadsOf(bucket), upload.id), { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' && bucket && !key && 'uploads' in ctx.query) {
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const listed = (await uploads(bucket)).filter((u) => u.key.startsWith(prefix));
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${xmlEscape(bucket)}</Bucket><IsTruncated>false</IsTruncated>` +
        listed.map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId></Upload>`).join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    await next();
  };
  // Before the router (the last middleware), which would answer these itself.
  middleware.splice(middleware.length - 1, 0, multipart);
}

/**
 * s3rver seals ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node ≥ 17) no
 * longer has: every truncated listing page would answer 500. The token only has to round-trip
 * through s3rver itself, so 'des' gets a pass-through stand-in (nothing else uses DES).
 */
function letS3rverPaginate(): void {
  const patched = crypto as typeof crypto & { __s3rverDes?: true };
  if (patched.__s3rverDes) return;
  patched.__s3rverDes = true;
  const passThrough = () => ({ update: (data: string | Buffer) => Buffer.from(data), final: () => Buffer.alloc(0) });
  const { createCipheriv, createDecipheriv } = crypto;
  Object.assign(crypto, {
    createCipheriv: (...args: Parameters<typeof createCipheriv>) => (args[0] === 'des' ? passThrough() : createCipheriv(...args)),
    createDecipheriv: (...args: Parameters<typeof createDecipheriv>) => (args[0] === 'des' ? passThrough() : createDecipheriv(...args)),
  });
}

/**
 * A real S3-compatible server (s3rver) on a free 127.0.0.1 port, with one empty bucket; it also
 * aborts and lists multipart uploads (letS3rverAbortAndListUploads).
 */
export async function startS3Server(bucket: string): Promise<TestS3Server> {
  letS3rverPaginate();
  const directory = mkdtempSync(join(tmpdir(), 'hemoday-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
  const state: Pick<TestS3Server, 'refuseAborts' | 'intercept'> = { refuseAborts: false, intercept: undefined };
  letS3rverAbortAndListUploads(server, state);
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    bucket,
    ...credentials,
    client,
    get refuseAborts() {
      return state.refuseAborts;
    },
    set refuseAborts(refuse: boolean) {
      state.refuseAborts = refuse;
    },
    get intercept() {
      return state.intercept;
    },
    set intercept(intercept: TestS3Server['intercept']) {
      state.intercept = intercept;
    },
    stop: async () => {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
