import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { UploadInspector } from './upload-inspector.js';

const ALLOWED = new Set(['application/pdf', 'image/png']);

async function run(chunks: Buffer[], maxBytes = 1_000_000): Promise<{ out: Buffer; inspector: UploadInspector }> {
  const inspector = new UploadInspector(maxBytes, ALLOWED);
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), inspector, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return { out: Buffer.concat(out), inspector };
}

describe('UploadInspector', () => {
  it('passes the bytes through unchanged and reports type, size and sha256', async () => {
    const content = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(50_000)]);
    // Split the signature across chunks: sniffing must not depend on chunk boundaries.
    const { out, inspector } = await run([content.subarray(0, 3), content.subarray(3, 40), content.subarray(40)]);
    expect(out.equals(content)).toBe(true);
    expect(inspector.result()).toEqual({
      mimeType: 'application/pdf',
      sizeBytes: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
    });
  });

  it('recognizes a file shorter than the sniff window', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]);
    const { out, inspector } = await run([png]);
    expect(out.equals(png)).toBe(true);
    expect(inspector.result().mimeType).toBe('image/png');
  });

  it('refuses a type not allowed before passing any byte on', async () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(1000)]);
    const inspector = new UploadInspector(1_000_000, ALLOWED);
    const passed: Buffer[] = [];
    inspector.on('data', (c: Buffer) => passed.push(c));
    const error = await pipeline(Readable.from([jpeg]), inspector).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(ErrorCode.UNSUPPORTED_MEDIA_TYPE);
    expect((error as DomainError).details).toMatchObject({ detected: 'image/jpeg' });
    expect(passed).toEqual([]);
  });

  it('fails as soon as the size passes the limit', async () => {
    const content = Buffer.concat([Buffer.from('%PDF-'), randomBytes(2000)]);
    const error = await run([content.subarray(0, 1000), content.subarray(1000)], 1500).catch((e: unknown) => e);
    expect((error as DomainError).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
  });

  it('accepts a file of exactly the limit', async () => {
    const content = Buffer.concat([Buffer.from('%PDF-'), randomBytes(1495)]);
    const { inspector } = await run([content], 1500);
    expect(inspector.result().sizeBytes).toBe(1500);
  });

  it('refuses an empty file', async () => {
    const error = await run([]).catch((e: unknown) => e);
    expect((error as DomainError).code).toBe(ErrorCode.UNSUPPORTED_MEDIA_TYPE);
    // Saying so, not "Unsupported file type": the phone sent nothing (a file picker that failed), not a wrong file.
    expect((error as DomainError).message).toBe('The file is empty');
  });
});
