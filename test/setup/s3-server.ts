import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
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
  stop(): Promise<void>;
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

/** A real S3-compatible server (s3rver) on a free 127.0.0.1 port, with one empty bucket. */
export async function startS3Server(bucket: string): Promise<TestS3Server> {
  letS3rverPaginate();
  const directory = mkdtempSync(join(tmpdir(), 'hemoday-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
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
    stop: async () => {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
