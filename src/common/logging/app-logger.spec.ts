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

describe('AppLogger: levels and errors', () => {
  // Found by mutation testing: an Error logged without its err (message only), and Nest's verbose
  // written at debug (shown by LOG_LEVEL=debug, which promises Nest's debug lines, not its verbose ones), passed.
  it('an Error given as the message keeps its stack under err; verbose is below debug', () => {
    const { lines, logger } = capture();
    logger.error(new Error('the disk is full'), 'FilesService');
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ level: 50, context: 'FilesService', msg: 'the disk is full', err: { type: 'Error', message: 'the disk is full' } });
    expect(entry.err.stack).toContain('app-logger.spec');

    const debug = new Writable({ write: (chunk: Buffer, _encoding, callback) => (lines.push(chunk.toString()), callback()) });
    const atDebug = new AppLogger(createPino('debug', debug));
    lines.length = 0;
    atDebug.debug('a debug line', 'X');
    atDebug.verbose('a verbose line', 'X');
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(['a debug line']);
  });
});

describe('AppLogger: passwords in a logged object', () => {
  // Found by mutation testing: dropping '*.password' from the redacted paths passed every test.
  it('a password field, at the top of the object or one level down (a logged body), is written as [redacted]', () => {
    const { lines, logger } = capture();
    logger.warn({ password: 'top-secret-1', body: { email: 'x@example.test', password: 'nested-secret-2' } }, 'a line with passwords');
    expect(lines[0]).not.toContain('secret');
    expect(JSON.parse(lines[0])).toMatchObject({ password: '[redacted]', body: { email: 'x@example.test', password: '[redacted]' } });
  });
});

// Found by mutation testing: with the pino mixin returning nothing (or the middleware calling next()
// outside the request's context), lines logged while handling a request lost their request id and no
// test noticed; only the access line, which names reqId itself, was checked.
describe('AppLogger: every line logged while a request is handled carries its request id', () => {
  it('a line logged by a handler after an await has the reqId the response echoes; a line logged outside any request has none', async () => {
    const { default: express } = await import('express');
    const { default: request } = await import('supertest');
    const { requestLogging } = await import('./request-logging.middleware.js');
    const lines: string[] = [];
    const pino = createPino(
      'info',
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString());
          callback();
        },
      }),
    );
    const logger = new AppLogger(pino);
    const app = express();
    app.use(requestLogging(pino));
    app.get('/fails', async (_req, res) => {
      await new Promise((r) => setImmediate(r));
      // As Nest's Logger calls it: message, text, then its context.
      logger.error({ err: new Error('boom'), path: '/fails' }, 'unhandled error', 'AllExceptionsFilter');
      res.status(500).json({ statusCode: 500 });
    });
    const first = await request(app).get('/fails').set('x-request-id', 'lb-7');
    const second = await request(app).get('/fails');
    logger.log('outside any request');
    const entries = lines.map((line) => JSON.parse(line) as { msg: string; reqId?: string });
    const handlerIds = entries.filter((e) => e.msg === 'unhandled error').map((e) => e.reqId);
    expect(first.headers['x-request-id']).toBe('lb-7');
    expect(handlerIds).toEqual(['lb-7', second.headers['x-request-id']]);
    expect(second.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(entries.find((e) => e.msg === 'outside any request')).not.toHaveProperty('reqId');
  });
});

describe("AppLogger: Nest's error(message, stack, context)", () => {
  it('keeps the stack Nest passes (its modules give the cause only there); a missing stack adds nothing, and other levels take no stack', () => {
    const { lines, logger } = capture();
    // As Nest's context-bound Logger calls it: an absent stack is passed as undefined before the context.
    logger.error('Unable to connect to the database. Retrying (1)...', 'Error: connect ECONNREFUSED 10.0.0.5:5432\n    at x', 'TypeOrmModule');
    logger.error('no stack', undefined, 'Somewhere');
    logger.warn('a warning', 'Somewhere');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({ level: 50, context: 'TypeOrmModule', stack: 'Error: connect ECONNREFUSED 10.0.0.5:5432\n    at x' });
    expect(entries[1]).toMatchObject({ level: 50, context: 'Somewhere', msg: 'no stack' });
    expect(entries[1]).not.toHaveProperty('stack');
    expect(entries[2]).toMatchObject({ level: 40, context: 'Somewhere', msg: 'a warning' });
    expect(entries[2]).not.toHaveProperty('stack');
  });
});
