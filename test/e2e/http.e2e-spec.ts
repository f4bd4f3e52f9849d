import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { bearer, registerFamily, uniqueEmail } from '../factories/auth.factory.js';
import { DRAINED_MAX_BYTES, rawRequest, UNREAD_MAX_BYTES } from '../setup/raw-request.js';
import { createTestApp, testEnv, useTestApp } from '../setup/test-app.js';

const ERROR_KEYS = ['details', 'error', 'message', 'statusCode'];

/** Every error body has exactly { statusCode, error, message, details? } and no stack or SQL. */
function expectErrorShape(res: { status: number; body: Record<string, unknown>; headers: Record<string, string> }, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/application\/json/);
  expect(res.body).toMatchObject({ statusCode: status, error: expect.any(String), message: expect.any(String) });
  expect(Object.keys(res.body).every((k) => ERROR_KEYS.includes(k))).toBe(true);
  expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.(js|ts):\d+|SELECT |INSERT |QueryFailedError/);
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
}



describe('HTTP input handling and error shape (e2e)', () => {
  const t = useTestApp({ BODY_LIMIT_BYTES: '2048' });

  const post = (path: string) => t.http().post(path).set('Content-Type', 'application/json');

  it('a request may take REQUEST_TIMEOUT_SECONDS to arrive (Node\'s requestTimeout; 300 s unless set)', async () => {
    const slow = await createTestApp({ REQUEST_TIMEOUT_SECONDS: '1800' });
    try {
      expect({ set: (slow.app.getHttpServer() as Server).requestTimeout, default: (t.app.getHttpServer() as Server).requestTimeout }).toEqual({ set: 1_800_000, default: 300_000 });
    } finally {
      await slow.close();
    }
  });

  it.each([
    ['{"email": ', 'truncated'],
    ['{email: "a@b.c"}', 'unquoted key'],
    ['{"email": "a@b.c",}', 'trailing comma'],
    ['"just a string"', 'a JSON string'],
    ['null', 'null'],
  ])('malformed JSON (%s: %s) answers 400 with the JSON shape', async (raw) => {
    const res = await post('/api/v1/auth/register').send(raw);
    expectErrorShape(res, 400);
    expect(res.body.message).toBe('Request body is not valid JSON');
    expect(res.body.details).toEqual({ code: 'MALFORMED_REQUEST' });
  });

  it('malformed JSON on a protected route is still a 400 (parsing runs before auth)', async () => {
    const res = await t.http().patch('/api/v1/families/me').set('Content-Type', 'application/json').send('{"notes":');
    expectErrorShape(res, 400);
  });

  it('missing fields answer 400 naming each field', async () => {
    const res = await post('/api/v1/auth/register').send({});
    expectErrorShape(res, 400);
    const fields = res.body.details.fields.map((f: { field: string }) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['email', 'password']));
    expect(res.body.message).toMatch(/email/);
    expect(res.body.message).toMatch(/password/);
  });

  it.each([
    ['text/plain', 'email=a@b.c'],
    ['application/x-www-form-urlencoded', 'email=a@b.c&password=whatever12'],
    ['application/xml', '<login/>'],
  ])('a body of type %s is refused 415 naming the type to send, not taken for an empty object', async (type, body) => {
    const res = await t.http().post('/api/v1/auth/login').set('Content-Type', type).send(body);
    expectErrorShape(res, 415);
    expect(res.body.details).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(res.body.message).toMatch(/application\/json/);
  });

  it('a PATCH whose body is not JSON changes nothing and says why (it answered 200 before, as an empty patch)', async () => {
    const user = await registerFamily(t);
    const before = (await t.http().get('/api/v1/families/me').set(bearer(user.token)).expect(200)).body;
    const res = await t.http().patch('/api/v1/families/me').set(bearer(user.token)).set('Content-Type', 'application/xml').send('<patient_name>X</patient_name>');
    expectErrorShape(res, 415);
    expect((await t.http().get('/api/v1/families/me').set(bearer(user.token)).expect(200)).body).toEqual(before);
  });

  it.each([
    ['/api/v1/auth/register', { email: 42, password: 'long enough pw' }, 'email'],
    ['/api/v1/auth/register', { email: uniqueEmail(), password: 12345678 }, 'password'],
    ['/api/v1/auth/register', { email: uniqueEmail(), password: 'long enough pw', name: ['x'] }, 'name'],
    ['/api/v1/auth/register', { email: uniqueEmail(), password: 'long enough pw', invite_code: 123456 }, 'invite_code'],
    ['/api/v1/auth/register', { email: { $gt: '' }, password: 'long enough pw' }, 'email'],
    ['/api/v1/auth/login', { email: uniqueEmail(), password: true }, 'password'],
    ['/api/v1/auth/login', { email: 'not-an-email', password: 'whatever1' }, 'email'],
    ['/api/v1/auth/refresh', { refresh_token: 7 }, 'refresh_token'],
    ['/api/v1/auth/logout', { refresh_token: null }, 'refresh_token'],
  ])('wrong type on %s %j answers 400 naming %s', async (path, body, field) => {
    const res = await post(path).send(body);
    expectErrorShape(res, 400);
    expect(res.body.details.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(res.body.message).toContain(field);
  });

  it('unknown fields answer 400 naming the field', async () => {
    const res = await post('/api/v1/auth/register').send({ email: uniqueEmail(), password: 'long enough pw', role: 'owner', family_id: 'x' });
    expectErrorShape(res, 400);
    expect(res.body.details.fields.map((f: { field: string }) => f.field)).toEqual(expect.arrayContaining(['role', 'family_id']));
    expect(res.body.message).toMatch(/property role should not exist/);
  });

  it('a JSON array instead of an object answers 400', async () => {
    expectErrorShape(await post('/api/v1/auth/login').send([{ email: uniqueEmail(), password: 'x' }]), 400);
  });

  it('a body over BODY_LIMIT_BYTES answers 413 with the JSON shape', async () => {
    const res = await post('/api/v1/auth/register').send({ email: uniqueEmail(), password: 'p'.repeat(4096) });
    expectErrorShape(res, 413);
    expect(res.body.message).toMatch(/larger than the limit.*2048 bytes/);
    expect(res.body.details).toEqual({ code: 'PAYLOAD_TOO_LARGE', max_bytes: 2048 });
  });

  it('a body just under the limit is parsed (and validated)', async () => {
    const res = await post('/api/v1/auth/register').send({ email: uniqueEmail(), password: 'p'.repeat(1800) });
    expectErrorShape(res, 400);
    expect(res.body.details.fields[0].field).toBe('password');
  });

  // Found by mutation testing: a declared Content-Length equal to the limit refused 413 (`>=`) passed every test.
  it('a body of exactly BODY_LIMIT_BYTES is parsed; one byte more answers 413', async () => {
    const bodyOf = (bytes: number) => {
      const email = uniqueEmail();
      const text = JSON.stringify({ email, password: '' });
      return JSON.stringify({ email, password: 'p'.repeat(bytes - Buffer.byteLength(text)) });
    };
    const [exact, over] = [bodyOf(2048), bodyOf(2049)];
    expect([Buffer.byteLength(exact), Buffer.byteLength(over)]).toEqual([2048, 2049]);
    const parsed = await post('/api/v1/auth/register').set('Content-Type', 'application/json').send(exact);
    expectErrorShape(parsed, 400);
    expect(parsed.body.details.fields[0].field).toBe('password');
    const refused = await post('/api/v1/auth/register').set('Content-Type', 'application/json').send(over);
    expectErrorShape(refused, 413);
    expect(refused.body.details).toEqual({ code: 'PAYLOAD_TOO_LARGE', max_bytes: 2048 });
  });

  it('an unsupported charset answers 415', async () => {
    const res = await t.http().post('/api/v1/auth/login').set('Content-Type', 'application/json; charset=latin2').send('{}');
    expectErrorShape(res, 415);
    expect(res.body.details).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('UTF-7, a "utf-" charset the JSON parser would decode, answers 415 like any charset but UTF-8, UTF-16 and UTF-32, changing nothing', async () => {
    // `+ANk-` is "Ù" in UTF-7 (and `+ADw-` "<": the charset of filter evasion): it was decoded and stored (found by review).
    const user = await registerFamily(t);
    const utf7 = await t.http().patch('/api/v1/families/me').set(bearer(user.token)).set('Content-Type', 'application/json; charset=utf-7').send('{"notes":"+ANk-"}');
    expectErrorShape(utf7, 415);
    expect(utf7.body.details).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect((await t.http().get('/api/v1/families/me').set(bearer(user.token))).body.notes).toBeNull();
    const utf16 = await fetch(`${t.baseUrl}/api/v1/families/me`, {
      method: 'PATCH',
      headers: { ...bearer(user.token), 'Content-Type': 'application/json; charset=utf-16le' },
      body: Buffer.from('{"notes":"Ù"}', 'utf16le'),
    });
    expect([utf16.status, ((await utf16.json()) as { notes?: unknown }).notes]).toEqual([200, 'Ù']);
  });

  it('a text field PostgreSQL cannot store (NUL) answers 400 VALIDATION_FAILED naming it', async () => {
    const res = await post('/api/v1/auth/login').send({ email: uniqueEmail(), password: 'pass\u0000word' });
    expectErrorShape(res, 400);
    expect(res.body.details).toEqual({ code: 'VALIDATION_FAILED', fields: [{ field: 'password', errors: ['password must not contain NUL characters'] }] });
  });

  it.each([
    ['a chunk size that is not hex', 400, 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'],
    ['two different Content-Lengths', 400, 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'],
    ['headers over 16 KB', 431, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['an Expect other than 100-continue', 417, 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 200-ok\r\n\r\n{}'],
    // Node answered it itself, with an empty body, no request id and no log line.
    ['an HTTP/1.1 request without Host', 400, 'GET /health HTTP/1.1\r\n\r\n'],
  ])('a request Node refuses before routing (%s) is answered %i in the one error shape', async (_, status, raw) => {
    const socket = connect(Number(new URL(t.baseUrl).port), new URL(t.baseUrl).hostname);
    socket.end(raw);
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const [head, body] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n');
    const headers = Object.fromEntries(head.split('\r\n').slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    expectErrorShape({ status: Number(head.split(' ')[1]), headers, body: JSON.parse(body) }, status);
    expect(JSON.parse(body).details).toEqual({ code: 'MALFORMED_REQUEST' });
  });

  it('a request sent with Connection: close is answered, and the bytes sent after it are not: they are no request (RFC 9112 §9.6)', async () => {
    // Node reports the bytes as a parse error (HPE_CLOSED_CONNECTION) while the request is in flight: the
    // 400 for them went out as the answer to the PATCH, which was applied all the same (found by review).
    const user = await registerFamily(t);
    const body = JSON.stringify({ notes: 'after close' });
    const socket = connect(Number(new URL(t.baseUrl).port), new URL(t.baseUrl).hostname);
    socket.end(
      `PATCH /api/v1/families/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}GET /health HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const [head, answer] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n');
    expect([head.split(' ')[1], /\r\nconnection: close/i.test(head)]).toEqual(['200', true]);
    expect(JSON.parse(answer).notes).toBe('after close');
  });

  /** Every answer read from a connection until the server closes it: status, headers, body. */
  type Answer = { status: number; headers: Record<string, string>; body: string };
  async function answersOn(raw: string): Promise<Answer[]> {
    const socket = connect(Number(new URL(t.baseUrl).port), new URL(t.baseUrl).hostname);
    socket.end(raw);
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    let rest = Buffer.concat(chunks).toString('utf8');
    const answers: Answer[] = [];
    while (rest) {
      const end = rest.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      // The answer to a HEAD has no body whatever its Content-Length.
      const length = !answers.length && raw.startsWith('HEAD ') ? 0 : Number(headers['content-length'] ?? 0);
      answers.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
      rest = rest.slice(end + 4 + length);
    }
    return answers;
  }

  // Found in review: Node reports the bytes as a parse error while the request before them is in flight, and
  // the 400 went out as that request's answer: the PATCH was applied, its client told 400.
  it('bytes that are no HTTP after a whole request on a kept-alive connection: the request is answered, then the bytes 400', async () => {
    const user = await registerFamily(t);
    const body = JSON.stringify({ notes: 'before the garbage' });
    const answers = await answersOn(
      `PATCH /api/v1/families/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}{"not":"http"}\r\n\r\n`,
    );
    expect(answers.map((a) => a.status)).toEqual([200, 400]);
    expect(JSON.parse(answers[0].body).notes).toBe('before the garbage');
    expectErrorShape({ ...answers[1], body: JSON.parse(answers[1].body) }, 400);
    expect(answers[1].headers.connection).toBe('close');
    expect(answers[1].headers['x-request-id']).not.toBe(answers[0].headers['x-request-id']);
  });

  // Found in review: bytes that break the body of a request pipelined behind the one in flight (its head
  // arrived, its chunked framing did not parse) waited for that request's own answer, which never comes
  // (its body never ends): the connection stayed open, the 400 unsent, past the test's 60 s timeout.
  it('a request pipelined behind another whose body breaks its framing: the first is answered, then that request 400, the connection closed', async () => {
    const user = await registerFamily(t);
    const answers = await answersOn(
      `GET /api/v1/families/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\n\r\n` +
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\n',
    );
    expect(answers.map((a) => a.status)).toEqual([200, 400]);
    expectErrorShape({ ...answers[1], body: JSON.parse(answers[1].body) }, 400);
    expect(answers[1].headers.connection).toBe('close');
  });

  it('after a HEAD, the same: the HEAD\'s own answer (no body), then the 400 for the bytes, with its body', async () => {
    const answers = await answersOn('HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n{"not":"http"}');
    expect(answers.map((a) => [a.status, a.body === '' ? 'no body' : JSON.parse(a.body).details])).toEqual([
      [200, 'no body'],
      [400, { code: 'MALFORMED_REQUEST' }],
    ]);
  });

  it('a deeply nested body answers 400 VALIDATION_FAILED naming where, not 500 (the validation overflowed its stack)', async () => {
    // 20,000 levels: 40 KB, over this suite's BODY_LIMIT_BYTES.
    const roomy = await createTestApp();
    try {
      const nested = '['.repeat(20_000) + ']'.repeat(20_000);
      const inField = await roomy.http().post('/api/v1/auth/login').set('Content-Type', 'application/json').send(`{"email":${nested},"password":"whatever1"}`);
      expectErrorShape(inField, 400);
      expect(inField.body.details).toEqual({ code: 'VALIDATION_FAILED', fields: [{ field: `email${'[0]'.repeat(31)}`, errors: [expect.stringContaining('nested more than 32 levels deep')] }] });
      const whole = await roomy.http().post('/api/v1/auth/login').set('Content-Type', 'application/json').send(nested);
      expectErrorShape(whole, 400);
      expect(whole.body.details.code).toBe('VALIDATION_FAILED');
    } finally {
      await roomy.close();
    }
  });

  describe('compressed bodies (Content-Encoding)', () => {
    const login = { email: uniqueEmail(), password: 'wrong password' };

    it.each(['gzip', 'deflate', 'br'])('a %s body is decoded and handled like a plain one', async (encoding) => {
      const { brotliCompressSync, deflateSync } = await import('node:zlib');
      const raw = Buffer.from(JSON.stringify(login));
      const body = encoding === 'gzip' ? gzipSync(raw) : encoding === 'deflate' ? deflateSync(raw) : brotliCompressSync(raw);
      // supertest would serialize a Buffer as JSON: the bytes go over a plain request.
      const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', headers: { 'Content-Encoding': encoding }, chunk: body, total: body.length, declaredLength: body.length });
      expect(res.status).toBe(401); // decoded, parsed and checked: wrong credentials
      expect(JSON.parse(res.body!).details).toEqual({ code: 'INVALID_CREDENTIALS' });
    });

    it('a corrupt gzip body answers 400 MALFORMED_REQUEST in the standard shape (not zlib\'s "unexpected end of file")', async () => {
      const truncated = gzipSync(Buffer.from(JSON.stringify(login))).subarray(0, 20);
      const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', headers: { 'Content-Encoding': 'gzip' }, chunk: truncated, total: truncated.length, declaredLength: truncated.length });
      expect(res.status).toBe(400);
      expect(res.headers!['content-type']).toMatch(/application\/json/);
      expect(JSON.parse(res.body!)).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Request body is not valid gzip data (Content-Encoding: gzip)',
        details: { code: 'MALFORMED_REQUEST' },
      });
      const notGzip = await post('/api/v1/auth/login').set('Content-Encoding', 'gzip').send(JSON.stringify(login));
      expectErrorShape(notGzip, 400);
      expect(notGzip.body.details).toEqual({ code: 'MALFORMED_REQUEST' });
    });

    it('the body limit applies to the decoded size (a small gzip of a big body is a 413)', async () => {
      const bomb = gzipSync(Buffer.from(JSON.stringify({ ...login, password: ' '.repeat(100_000) })));
      expect(bomb.length).toBeLessThan(2048);
      const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', headers: { 'Content-Encoding': 'gzip' }, chunk: bomb, total: bomb.length, declaredLength: bomb.length });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body!).details).toEqual({ code: 'PAYLOAD_TOO_LARGE', max_bytes: 2048 });
    });

    it('another Content-Encoding answers 415', async () => {
      const res = await post('/api/v1/auth/login').set('Content-Encoding', 'compress').send(JSON.stringify(login));
      expectErrorShape(res, 415);
      expect(res.body.details).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    });
  });

  it('an unknown route answers 404 with the JSON shape and code', async () => {
    for (const res of [await t.http().get('/api/v1/nope'), await t.http().delete('/api/v1/families/me')]) {
      expectErrorShape(res, 404);
      expect(res.body.details).toEqual({ code: 'NOT_FOUND' });
    }
  });

  it('a 401 from the bearer guard carries details.code like every other error', async () => {
    for (const headers of [{}, { Authorization: 'Bearer not.a.jwt' }, { Authorization: 'Basic dXNlcjpwYXNz' }]) {
      const res = await t.http().get('/api/v1/families/me').set(headers);
      expectErrorShape(res, 401);
      expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Unauthorized', details: { code: 'UNAUTHENTICATED' } });
    }
  });

  describe('the sync push body limit (SYNC_BODY_LIMIT_BYTES) is for signed-in callers of POST /api/v1/sync only', () => {
    /** Invalid JSON just over BODY_LIMIT_BYTES (2048): 413 under the default limit, 400 once parsed under the sync limit. */
    const overDefaultLimit = `{"changes": ${'x'.repeat(4096)}`;
    const push = (token?: string) => {
      const req = post('/api/v1/sync');
      return token ? req.set('Authorization', `Bearer ${token}`) : req;
    };
    const tokens = (userId: string) => {
      const now = Math.floor(Date.now() / 1000);
      const appJwt = new JwtService({ secret: testEnv().JWT_SECRET });
      return {
        expired: appJwt.sign({ sub: userId, typ: 'access', iat: now - 3600, exp: now - 60 }),
        'signed with another secret': new JwtService({ secret: 'another-secret-another-secret-0123456789' }).sign({ sub: userId, typ: 'access' }),
        'alg none': `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: userId, typ: 'access', exp: now + 600 })).toString('base64url')}.`,
        'not an access token': appJwt.sign({ sub: userId, typ: 'refresh' }),
        'not a JWT': `${randomUUID()}.secret`,
      };
    };
    const unauthenticated = { statusCode: 401, error: 'Unauthorized', message: 'Unauthorized', details: { code: 'UNAUTHENTICATED' } };

    it('without a bearer token: 401 before the body is parsed (not 413, not 400)', async () => {
      const res = await push().send(overDefaultLimit);
      expectErrorShape(res, 401);
      expect(res.body).toEqual(unauthenticated);
    });

    it('with a token whose signature or expiry does not verify: the same 401, body unread', async () => {
      const user = await registerFamily(t);
      for (const [kind, token] of Object.entries(tokens(user.user.id))) {
        const res = await push(token).send(overDefaultLimit);
        expect({ kind, status: res.status, body: res.body }).toEqual({ kind, status: 401, body: unauthenticated });
      }
    });

    it('with a valid access token the body is read under the sync limit: parsed (400 for bad JSON), and a large push applies', async () => {
      const user = await registerFamily(t);
      const malformed = await push(user.token).send(overDefaultLimit);
      expectErrorShape(malformed, 400);
      expect(malformed.body.details).toEqual({ code: 'MALFORMED_REQUEST' });
      // The route as Express matches it: any case, trailing slash.
      const spelled = await t.http().post('/API/V1/Sync/').set('Content-Type', 'application/json').set(bearer(user.token)).send(overDefaultLimit);
      expect(spelled.body.details).toEqual({ code: 'MALFORMED_REQUEST' });

      const { timestamp } = (await t.http().get('/api/v1/sync').set(bearer(user.token)).expect(200)).body;
      const record = {
        id: randomUUID(),
        family_id: user.user.family_id,
        date: 1_764_000_000_000,
        volume_ml: 250,
        notes: 'n'.repeat(10_000),
        created_at: Date.now(),
        updated_at: Date.now(),
      };
      const body = { changes: { transfusions: { created: [record], updated: [], deleted: [] } }, lastPulledAt: timestamp };
      expect(JSON.stringify(body).length).toBeGreaterThan(4 * 2048);
      await push(user.token).send(body).expect(200);
      const pulled = (await t.http().get('/api/v1/sync').set(bearer(user.token)).query({ last_pulled_at: timestamp }).expect(200)).body;
      expect(pulled.changes.transfusions.created.concat(pulled.changes.transfusions.updated).map((r: { id: string }) => r.id)).toEqual([record.id]);
    });

    it.each([
      ['GET', '/api/v1/sync'],
      ['POST', '/api/v1/sync/events'],
      ['POST', '/api/v1/sync/anything'],
      ['PUT', '/api/v1/sync'],
    ])('%s %s gets the default limit, even with a valid token', async (method, path) => {
      const user = await registerFamily(t);
      const res = await rawRequest(t, { method, path, headers: bearer(user.token), total: 4096, declaredLength: 4096 });
      expect({ status: res.status, body: JSON.parse(res.body!) }).toEqual({
        status: 413,
        body: expect.objectContaining({ statusCode: 413, details: { code: 'PAYLOAD_TOO_LARGE', max_bytes: 2048 } }),
      });
    });

    it('an anonymous push of a huge declared length is answered at once, unread, and the connection closed', async () => {
      const res = await rawRequest(t, { method: 'POST', path: '/api/v1/sync', total: 58 * 1024 * 1024, declaredLength: 58 * 1024 * 1024 });
      if (res.status !== undefined) {
        expect(res.status).toBe(401);
        expect(JSON.parse(res.body!)).toEqual(unauthenticated);
        expect(res.headers!.connection).toBe('close');
      } else {
        expect(['EPIPE', 'ECONNRESET']).toContain(res.error);
      }
      // Answered with next to nothing of the 58 MB read (what it read, not how fast: no timed assertions).
      expect(res.serverRead).toBeLessThan(UNREAD_MAX_BYTES);
    });

    it('an anonymous chunked push is answered after at most a few MiB, which are discarded, then the connection is closed', async () => {
      const total = 64 * 1024 * 1024;
      const res = await rawRequest(t, { method: 'POST', path: '/api/v1/sync', total });
      if (res.status !== undefined) {
        expect(res.status).toBe(401);
        expect(res.headers!.connection).toBe('close');
      } else {
        expect(['EPIPE', 'ECONNRESET']).toContain(res.error);
      }
      expect(res.serverRead).toBeLessThan(DRAINED_MAX_BYTES);
    });

    it('an anonymous push of a small body is read to its end and answered on a connection that stays usable', async () => {
      const agent = new Agent({ keepAlive: true });
      const res = await rawRequest(t, { method: 'POST', path: '/api/v1/sync', total: 64 * 1024, declaredLength: 64 * 1024, agent });
      agent.destroy();
      expect(res.status).toBe(401);
      expect(res.headers!.connection).toBe('keep-alive');
      expect(JSON.parse(res.body!)).toEqual(unauthenticated);
    });
  });

  describe('Expect: 100-continue (curl sends it for bodies over 1 MiB)', () => {
    /** A request that announces its body and sends it only once told to continue. */
    async function expectContinue(path: string, headers: Record<string, string>, body: Buffer, declaredLength = body.length) {
      const req = httpRequest(`${t.baseUrl}${path}`, {
        method: 'POST',
        agent: false,
        headers: { ...headers, expect: '100-continue', 'content-length': String(declaredLength) },
      });
      let continued = false;
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.flushHeaders();
      const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
      let text = '';
      for await (const chunk of res) text += chunk;
      req.destroy();
      return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined, continued };
    }

    const multipart = (file: Buffer) => {
      const boundary = 'hemoday-boundary';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.png"\r\nContent-Type: image/png\r\n\r\n`),
        file,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      return { body, contentType: `multipart/form-data; boundary=${boundary}` };
    };
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);

    it('an upload declared larger than UPLOAD_MAX_BYTES is refused with 413 before the client sends a byte', async () => {
      const user = await registerFamily(t);
      const { body, contentType } = multipart(png);
      const res = await expectContinue('/api/v1/upload', { ...bearer(user.token), 'content-type': contentType }, body, 30 * 1024 * 1024);
      expect(res.status).toBe(413);
      expect(res.continued).toBe(false);
      expect(res.headers.connection).toBe('close');
      expect(res.body).toMatchObject({ statusCode: 413, details: { code: 'PAYLOAD_TOO_LARGE' } });
    });

    it('an anonymous upload is refused with 401 before the client sends a byte', async () => {
      const { body, contentType } = multipart(png);
      const res = await expectContinue('/api/v1/upload', { 'content-type': contentType }, body);
      expect(res.status).toBe(401);
      expect(res.continued).toBe(false);
      expect(res.headers.connection).toBe('close');
    });

    it('an acceptable upload and a JSON body are told to continue, then stored / parsed', async () => {
      const user = await registerFamily(t);
      const { body, contentType } = multipart(png);
      const uploaded = await expectContinue('/api/v1/upload', { ...bearer(user.token), 'content-type': contentType }, body);
      expect(uploaded).toMatchObject({ status: 201, continued: true, body: { mime_type: 'image/png', size_bytes: png.length } });
      const json = Buffer.from(JSON.stringify({ email: user.email, password: user.password }));
      const login = await expectContinue('/api/v1/auth/login', { 'content-type': 'application/json' }, json);
      expect(login).toMatchObject({ status: 200, continued: true });
    });
  });

  it('sets x-request-id on successes and errors alike, keeping a well-formed incoming id', async () => {
    const user = await registerFamily(t);
    const ok = await t.http().get('/api/v1/families/me').set(bearer(user.token)).expect(200);
    expect(ok.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const unauth = await t.http().get('/api/v1/families/me').expect(401);
    expect(unauth.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(unauth.headers['x-request-id']).not.toBe(ok.headers['x-request-id']);
    const echoed = await post('/api/v1/auth/login').set('x-request-id', 'lb-42.abc').send('{bad');
    expect(echoed.status).toBe(400);
    expect(echoed.headers['x-request-id']).toBe('lb-42.abc');
    // A header that could inject into logs is replaced by a fresh id.
    const replaced = await t.http().get('/health').set('x-request-id', 'x'.repeat(200));
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  // Found by mutation testing: an id pattern that let any character through (up to 128 of them) passed
  // every test; only an over-long id was checked. The id goes into every log line and back to the client.
  it('an incoming x-request-id with a character outside [A-Za-z0-9._:-] is replaced; one of 128 allowed characters is kept, 129 are not', async () => {
    for (const bad of ['lb 42', 'lb-42"}', '{"admin":true}', 'id;rm', 'é']) {
      const res = await t.http().get('/health').set('x-request-id', bad);
      expect({ bad, id: res.headers['x-request-id'] }).toEqual({ bad, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    }
    const longest = 'a.b:c_d-'.repeat(16);
    expect((await t.http().get('/health').set('x-request-id', longest)).headers['x-request-id']).toBe(longest);
    expect((await t.http().get('/health').set('x-request-id', `${longest}x`)).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends security headers and no x-powered-by', async () => {
    const res = await t.http().get('/health').expect(200);
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('tells caches not to store API answers (tokens, medical data)', async () => {
    const user = await registerFamily(t);
    for (const path of ['/api/v1/auth/me', '/api/v1/families/me', '/api/v1/sync']) {
      const res = await t.http().get(path).set(bearer(user.token)).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
    }
    const failed = await t.http().post('/api/v1/auth/login').send({ email: uniqueEmail(), password: 'wrong password' }).expect(401);
    expect(failed.headers['cache-control']).toBe('no-store');
  });
});


describe('a refused JSON body is never read to its end (e2e)', () => {
  // Small limits keep the bodies small; the push limit is above the default one, as in production.
  const BODY_LIMIT = 2048;
  const SYNC_LIMIT = 64 * 1024;
  const t = useTestApp({ BODY_LIMIT_BYTES: String(BODY_LIMIT), SYNC_BODY_LIMIT_BYTES: String(SYNC_LIMIT) });
  let user: Awaited<ReturnType<typeof registerFamily>>;
  beforeAll(async () => {
    user = await registerFamily(t);
  });

  const MiB = 1024 * 1024;
  const routes = [
    ['POST', '/api/v1/auth/login', 'anonymous', false, BODY_LIMIT],
    ['PATCH', '/api/v1/families/me', 'signed in', true, BODY_LIMIT],
    ['POST', '/api/v1/sync', 'a push with a valid token, over SYNC_BODY_LIMIT_BYTES', true, SYNC_LIMIT],
  ] as const;
  const headersOf = (signedIn: boolean) => (signedIn ? bearer(user.token) : {});

  /** The 413 (or, when the server closed first, the broken connection a client may see instead). */
  function expectRefused(res: Awaited<ReturnType<typeof rawRequest>>, max: number) {
    expect(res.error).not.toBe('TIMEOUT');
    if (res.status === undefined) {
      expect(['EPIPE', 'ECONNRESET']).toContain(res.error);
      return;
    }
    expect(res.status).toBe(413);
    expect(res.headers!.connection).toBe('close');
    expect(JSON.parse(res.body!)).toMatchObject({ statusCode: 413, error: 'Payload Too Large', details: { code: 'PAYLOAD_TOO_LARGE', max_bytes: max } });
  }

  it.each(routes)('%s %s (%s): a declared Content-Length over the limit is answered 413 at once, unread, and the connection closed', async (method, path, _who, signedIn, max) => {
    const total = 64 * MiB;
    const res = await rawRequest(t, { method, path, headers: headersOf(signedIn), total, declaredLength: total, deadlineMs: 20_000 });
    expect({ status: res.status, error: res.error }).toEqual({ status: 413, error: undefined });
    expectRefused(res, max);
    // Answered with next to nothing of the 64 MiB read (what it read, not how fast: no timed assertions).
    expect(res.serverRead).toBeLessThan(UNREAD_MAX_BYTES);
  });

  it.each(routes)('%s %s (%s): a huge declared length of which only a few bytes come is answered at once, not after the request timeout', async (method, path, _who, signedIn, max) => {
    const res = await rawRequest(t, { method, path, headers: headersOf(signedIn), total: 2, declaredLength: 1e12, deadlineMs: 5_000 });
    expect({ status: res.status, error: res.error }).toEqual({ status: 413, error: undefined });
    expectRefused(res, max);
  });

  it.each(routes)('%s %s (%s): a chunked body that goes over the limit is answered 413 after at most a few MiB more, then the connection is closed', async (method, path, _who, signedIn, max) => {
    const total = 64 * MiB;
    const res = await rawRequest(t, { method, path, headers: headersOf(signedIn), total, deadlineMs: 20_000 });
    expectRefused(res, max);
    expect(res.serverRead).toBeLessThan(DRAINED_MAX_BYTES);
  });

  it('a compressed body whose decoded size goes over the limit is answered after at most a few MiB more of it', async () => {
    // Stored (level 0) gzip members, one after the other (a valid gzip body): as long as what they
    // decode to, so most of the body is still to come at the 413.
    const member = gzipSync(Buffer.alloc(256 * 1024, 0x20), { level: 0 });
    const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', headers: { 'Content-Encoding': 'gzip' }, chunk: member, total: 256 * member.length, deadlineMs: 20_000 });
    expectRefused(res, BODY_LIMIT);
    expect(res.serverRead).toBeLessThan(DRAINED_MAX_BYTES);
  });

  it('a long compressed body that does not decode is answered 400 after at most a few MiB more of it', async () => {
    const total = 64 * MiB;
    const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', headers: { 'Content-Encoding': 'gzip' }, chunk: Buffer.alloc(256 * 1024, 0xff), total, deadlineMs: 20_000 });
    expect(res.error).not.toBe('TIMEOUT');
    if (res.status !== undefined) {
      expect(res.status).toBe(400);
      expect(res.headers!.connection).toBe('close');
      expect(JSON.parse(res.body!).details).toEqual({ code: 'MALFORMED_REQUEST' });
    }
    expect(res.serverRead).toBeLessThan(DRAINED_MAX_BYTES);
  });

  it('a chunked body a little over the limit is read to its end and answered 413 on a connection that stays usable', async () => {
    const agent = new Agent({ keepAlive: true });
    const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', total: 64 * 1024, agent, deadlineMs: 20_000 });
    agent.destroy();
    expect(res.status).toBe(413);
    expect(res.sent).toBe(64 * 1024);
    expect(res.headers!.connection).toBe('keep-alive');
    expect(JSON.parse(res.body!).details).toEqual({ code: 'PAYLOAD_TOO_LARGE', max_bytes: BODY_LIMIT });
  });

  it('a body within the limits is still parsed, chunked or declared, compressed or not', async () => {
    const login = Buffer.from(JSON.stringify({ email: user.email, password: user.password }));
    for (const [headers, chunk, declaredLength] of [
      [{}, login, login.length],
      [{}, login, undefined],
      [{ 'Content-Encoding': 'gzip' }, gzipSync(login), undefined],
    ] as const) {
      const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', headers, chunk, total: chunk.length, declaredLength, deadlineMs: 20_000 });
      expect(res.status).toBe(200);
    }
  });

  it('a compressed body whose compressed length is over the limit but its decoded length is not is parsed (the limit counts decoded bytes)', async () => {
    // Incompressible at level 0: the gzip is a little longer than the JSON it holds.
    const base = JSON.stringify({ email: user.email, password: user.password, padding: '' }).length;
    const login = Buffer.from(JSON.stringify({ email: user.email, password: user.password, padding: 'x'.repeat(BODY_LIMIT - base) }));
    const gzip = gzipSync(login, { level: 0 });
    expect([login.length <= BODY_LIMIT, gzip.length > BODY_LIMIT]).toEqual([true, true]);
    const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', headers: { 'Content-Encoding': 'gzip' }, chunk: gzip, total: gzip.length, declaredLength: gzip.length, deadlineMs: 20_000 });
    // Parsed: the unknown field is named (not refused as too large).
    expect(res.status).toBe(400);
    expect(res.body).toContain('padding');
  });
});

describe('a body no parser reads is not read to its end after the answer (e2e)', () => {
  const t = useTestApp();
  let user: Awaited<ReturnType<typeof registerFamily>>;
  beforeAll(async () => {
    user = await registerFamily(t);
  });

  const MiB = 1024 * 1024;
  // A body still arriving when the answer goes out: the app reads a few MiB of it at most (a refused
  // non-JSON body is drained up to MAX_DRAIN_BYTES; one nobody read, as an upload refused by the
  // guard, is left to Node, which closes the connection rather than read the rest to keep it).
  it.each([
    ['POST', '/api/v1/auth/login', 'a text/plain body', { 'Content-Type': 'text/plain' }, false],
    ['PATCH', '/api/v1/families/me', 'an XML body', { 'Content-Type': 'application/xml' }, true],
    ['POST', '/api/v1/upload', 'an anonymous multipart upload', { 'Content-Type': 'multipart/form-data; boundary=x' }, false],
    // Chunked by request: Node's client frames no GET body of itself, and bytes without framing are the next request's.
    ['GET', '/api/v1/files/00000000-0000-4000-8000-000000000000', 'a GET with a body', { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' }, true],
  ] as const)('%s %s, %s still arriving: answered, the connection closed, a few MiB read at most', async (method, path, _what, headers, signedIn) => {
    const res = await rawRequest(t, { method, path, headers: { ...headers, ...(signedIn ? bearer(user.token) : {}) }, total: 64 * MiB, deadlineMs: 20_000 });
    expect(res.error).not.toBe('TIMEOUT');
    if (res.status !== undefined) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers!.connection).toBe('close');
    } else {
      expect(['EPIPE', 'ECONNRESET']).toContain(res.error);
    }
    expect(res.serverRead).toBeLessThan(DRAINED_MAX_BYTES);
  });

  it('a small refused body that has fully arrived keeps its connection', async () => {
    const agent = new Agent({ keepAlive: true });
    const res = await rawRequest(t, { method: 'POST', path: '/api/v1/auth/login', headers: { 'Content-Type': 'text/plain' }, total: 100, declaredLength: 100, agent, deadlineMs: 20_000 });
    agent.destroy();
    expect(res.status).toBe(415);
    expect(res.headers!.connection).toBe('keep-alive');
  });
});

describe('CORS_ORIGINS (e2e)', () => {
  // Written as people write them (upper case, the default port): allowed as browsers send them.
  const t = useTestApp({ CORS_ORIGINS: 'HTTPS://App.Example.com:443, http://localhost:8081' });

  it.each(['https://app.example.com', 'http://localhost:8081'])('a preflight from %s is allowed', async (origin) => {
    const res = await t.http().options('/api/v1/auth/login').set('Origin', origin).set('Access-Control-Request-Method', 'POST').expect(204);
    expect(res.headers['access-control-allow-origin']).toBe(origin);
  });

  // Found by mutation testing: dropping x-request-id from the exposed headers passed every test; a
  // browser client could then not read the id to quote in a support request, nor Retry-After.
  // A download's ETag, Content-Range and Content-Disposition, and an upload's Location, were hidden from browser clients (found in review).
  it('an allowed origin may read x-request-id, Retry-After and what downloads and uploads answer (exposed headers)', async () => {
    const res = await t.http().get('/health').set('Origin', 'http://localhost:8081').expect(200);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:8081');
    expect(res.headers['access-control-expose-headers']?.split(',').map((h: string) => h.trim().toLowerCase()).sort()).toEqual([
      'content-disposition',
      'content-range',
      'etag',
      'location',
      'retry-after',
      'x-request-id',
    ]);
  });

  it.each(['https://other.example.com', 'http://localhost:8082', 'http://app.example.com'])('%s gets no CORS header', async (origin) => {
    const res = await t.http().get('/health').set('Origin', origin);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});
