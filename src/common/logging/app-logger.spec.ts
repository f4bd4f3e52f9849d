import { Writable } from 'node:stream';
import { QueryFailedError } from 'typeorm';
import { AppLogger, createPino } from './app-logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { lines, logger: new AppLogger(createPino('info', stream)) };
}

describe('AppLogger: what an error log line may carry', () => {
  it('a failed query is logged with its message and SQL but never its parameters (password hashes, emails, medical text)', () => {
    const driverError = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
    const hash = '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA';
    const error = new QueryFailedError('INSERT INTO "users"("email", "password_hash", "name") VALUES ($1, $2, $3)', ['parent@example.test', hash, 'Amira beta-thalassemia'], driverError);
    const { lines, logger } = capture();
    logger.error({ err: error, path: '/api/v1/auth/register' }, 'unhandled error');
    logger.error({ err: new Error('wrapper', { cause: error }) }, 'nested');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain(hash);
      expect(line).not.toContain('parent@example.test');
      expect(line).not.toContain('Amira');
    }
    const entry = JSON.parse(lines[0]);
    expect(entry.err).toMatchObject({ type: 'QueryFailedError', message: expect.stringContaining('0x00'), query: expect.stringContaining('INSERT INTO') });
    expect(entry.err.driverError).toMatchObject({ code: '22021' });
  });
});
