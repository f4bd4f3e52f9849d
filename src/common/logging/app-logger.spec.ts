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

  it('a failed query is logged without PostgreSQL\'s DETAIL, which quotes row values (a check\'s failing row, a duplicate key)', () => {
    const driverError = Object.assign(new Error('new row for relation "transfusions" violates check constraint "transfusions_volume_ml_check"'), {
      code: '23514',
      detail: 'Failing row contains (3f0c…, 9000, Amira beta-thalassemia, night reaction notes).',
      table: 'transfusions',
      constraint: 'transfusions_volume_ml_check',
    });
    const error = new QueryFailedError('INSERT INTO "transfusions" ("notes") VALUES ($1)', ['night reaction notes'], driverError);
    const { lines, logger } = capture();
    logger.error({ err: error }, 'unhandled error');
    logger.error({ err: new Error('wrapper', { cause: error }) }, 'nested');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain('Amira');
      expect(line).not.toContain('night reaction notes');
    }
    // What locates the failure stays: the message, the code, the table and constraint.
    expect(JSON.parse(lines[0]).err).toMatchObject({
      message: expect.stringContaining('transfusions_volume_ml_check'),
      code: '23514',
      table: 'transfusions',
      driverError: { code: '23514', constraint: 'transfusions_volume_ml_check' },
    });
  });
});
