import { jest } from '@jest/globals';
import type { Request } from 'express';
import { PassThrough } from 'node:stream';
import { ErrorCode } from '../../common/errors/domain-error.js';
import { receiveMultipart } from './multipart-receiver.js';

const BOUNDARY = '----hemoday-receiver-spec';

/** A request whose whole multipart body (`parts`, then the closing boundary) has already arrived. */
function arrivedRequest(parts: string[]): Request {
  const body = Buffer.from(`${parts.join('')}--${BOUNDARY}--\r\n`);
  const req = new PassThrough();
  Object.assign(req, { headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(body.length) } });
  req.end(body);
  return req as unknown as Request;
}

const field = (name: string, value: string) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const file = (content: string) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n\r\n${content}\r\n`;

describe('receiveMultipart', () => {
  // The fields before the file are checked (beforeFile: a database read for a document_id) before the file is handed
  // to storage. A refusal that comes meanwhile (here a bad field after the file, parsed in the same chunk) answers the
  // upload at once, before any file was stored: the file must then never reach storage, where nobody would remove it.
  it('a refusal while the fields before the file are being checked: the file is never handed to storage', async () => {
    const req = arrivedRequest([field('document_id', 'f0e1d2c3-b4a5-4968-8776-655443322110'), file('%PDF-1.4 scan'), field('owner', 'me')]);
    let settleCheck!: () => void;
    const check = new Promise<void>((resolve) => (settleCheck = resolve));
    const handleFile = jest.fn(async () => 'stored');

    const received = receiveMultipart(
      req,
      { maxFileBytes: 1024, fieldNames: new Set(['document_id', 'notes']), maxFieldBytes: 100 },
      { beforeFile: () => check, handleFile },
    );
    await expect(received).rejects.toMatchObject({ code: ErrorCode.INVALID_UPLOAD, message: 'Unknown field "owner"' });

    settleCheck();
    await check;
    await new Promise((resolve) => setImmediate(resolve)); // whatever the settled check leads to has run
    expect(handleFile).not.toHaveBeenCalled();
  });

  it('the fields before the file are checked, then the file is handed over and received with every field', async () => {
    const req = arrivedRequest([field('document_id', 'f0e1d2c3-b4a5-4968-8776-655443322110'), file('%PDF-1.4 scan')]);
    const seen: Array<Record<string, string>> = [];
    const received = await receiveMultipart(
      req,
      { maxFileBytes: 1024, fieldNames: new Set(['document_id']), maxFieldBytes: 100 },
      {
        beforeFile: (fields) => void seen.push({ ...fields }),
        handleFile: async (stream) => {
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks).toString();
        },
      },
    );
    expect(seen).toEqual([{ document_id: 'f0e1d2c3-b4a5-4968-8776-655443322110' }]);
    expect(received).toMatchObject({ fields: { document_id: 'f0e1d2c3-b4a5-4968-8776-655443322110' }, file: '%PDF-1.4 scan', info: { filename: 'scan.pdf' } });
  });
});
