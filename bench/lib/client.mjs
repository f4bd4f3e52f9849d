// A minimal sync client over fetch (undici), behaving like WatermelonDB's
// synchronize(): pull, then push with the pull's timestamp; a 409 means
// "pull again, then push again".
import { randomUUID } from 'node:crypto';
import * as syncSchema from '../../dist/src/modules/sync/sync-schema.js';
import { msSince } from './stats.mjs';

/** The app schema version a current client sends (every table and column); 1 before the server knew versions. */
const SCHEMA_VERSION = syncSchema.APP_SCHEMA_VERSION ?? 1;

class HttpError extends Error {
  constructor(status, body, what) {
    super(`${what}: HTTP ${status} ${body.slice(0, 500)}`);
    this.status = status;
    this.body = body;
  }
}

let userSeq = 0;

/** A new user and family (POST /auth/register), or a new member of a family when `inviteCode` is given. */
export async function register(baseUrl, inviteCode) {
  const email = `bench-${process.pid}-${Date.now()}-${userSeq++}@example.com`;
  const res = await fetch(`${baseUrl}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'bench-password-123', ...(inviteCode ? { invite_code: inviteCode } : {}) }),
  });
  const text = await res.text();
  if (res.status !== 201 && res.status !== 200) throw new HttpError(res.status, text, 'register');
  const body = JSON.parse(text);
  return { token: body.access_token, userId: body.user.id, familyId: body.user.family_id, email };
}

export async function inviteCode(baseUrl, token) {
  const res = await fetch(`${baseUrl}/api/v1/families/me`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) throw new HttpError(res.status, text, 'families/me');
  return JSON.parse(text).invite_code;
}

/** One device of a user: its own X-Device-Id. Every call returns { status, ms, text }. */
export class Device {
  constructor(baseUrl, user, deviceId = randomUUID()) {
    this.baseUrl = baseUrl;
    this.user = user;
    this.deviceId = deviceId;
    this.headers = { authorization: `Bearer ${user.token}`, 'x-device-id': deviceId };
  }

  /**
   * `start`: when the caller issued the request (hrtime.bigint), if earlier than now (a queue wait counts).
   * `acceptEncoding`: what the request asks for; by default fetch's own `gzip, deflate` (a phone's
   * OkHttp asks for gzip), and the body is decoded before `text` like the phone's is. `wireBytes`:
   * the body's length on the wire (Content-Length).
   */
  async pullRaw(lastPulledAt, start = process.hrtime.bigint(), { acceptEncoding } = {}) {
    const res = await fetch(`${this.baseUrl}/api/v1/sync?last_pulled_at=${lastPulledAt ?? 'null'}&schema_version=${SCHEMA_VERSION}&migration=null`, {
      headers: acceptEncoding ? { ...this.headers, 'accept-encoding': acceptEncoding } : this.headers,
    });
    const text = await res.text(); // the body fully read (and decoded)
    return { status: res.status, ms: msSince(start), text, encoding: res.headers.get('content-encoding'), wireBytes: Number(res.headers.get('content-length')) };
  }

  /** The body is serialised inside the clock: turning records into the request is part of a push. */
  async pushRaw(lastPulledAt, body, start = process.hrtime.bigint()) {
    const res = await fetch(`${this.baseUrl}/api/v1/sync?last_pulled_at=${lastPulledAt ?? 0}`, {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, ms: msSince(start), text };
  }

  async pull(lastPulledAt) {
    const r = await this.pullRaw(lastPulledAt);
    if (r.status !== 200) throw new HttpError(r.status, r.text, 'pull');
    return { ...r, body: JSON.parse(r.text) };
  }

  /** Push; throws on anything but 200. */
  async push(lastPulledAt, changes) {
    const r = await this.pushRaw(lastPulledAt, { changes });
    if (r.status !== 200) throw new HttpError(r.status, r.text, 'push');
    return { ...r, timestamp: JSON.parse(r.text).timestamp };
  }

  async get(path, start = process.hrtime.bigint()) {
    const res = await fetch(`${this.baseUrl}${path}`, { headers: this.headers });
    const text = await res.text();
    if (!res.ok) throw new HttpError(res.status, text, path);
    return { status: res.status, ms: msSince(start), text };
  }
}

/** POST /auth/login; returns { status, ms }. */
export async function login(baseUrl, email, password = 'bench-password-123') {
  const start = process.hrtime.bigint();
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const text = await res.text();
  let ok = false;
  try {
    ok = (res.status === 200 || res.status === 201) && typeof JSON.parse(text).access_token === 'string';
  } catch {
    // not JSON: not a login
  }
  return { status: res.status, ok, ms: msSince(start), text };
}

/** Loads `total` records into a family with pushes of at most `batch` records; returns the last timestamp and the ids. */
export async function loadFamily(device, total, makeChanges, batch = 5000) {
  let cursor = (await device.pull(null)).body.timestamp;
  const ids = {};
  let seq = 0;
  for (let done = 0; done < total; ) {
    const n = Math.min(batch, total - done);
    const changes = makeChanges(n, device.user.familyId, { withFamilyRow: done === 0, seq });
    seq += n;
    const { timestamp } = await device.push(cursor, changes);
    cursor = timestamp;
    for (const [table, t] of Object.entries(changes)) (ids[table] ??= []).push(...t.created.map((r) => r.id));
    done += n;
  }
  return { cursor, ids };
}
