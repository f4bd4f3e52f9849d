import { randomUUID } from 'node:crypto';
import type { RunningApp } from '../setup/test-app.js';

export interface RegisteredUser {
  token: string;
  refreshToken: string;
  user: { id: string; email: string; name: string | null; family_id: string | null; role: 'owner' | 'member' | null };
  family: { id: string; invite_code: string; [key: string]: unknown };
  inviteCode: string;
  email: string;
  password: string;
}

export interface RegisterOverrides {
  email?: string;
  password?: string;
  name?: string;
  invite_code?: string;
  /** Client IP to register from (X-Forwarded-For; the app must trust the test client as a proxy, e.g. TRUST_PROXY=1). */
  ip?: string;
}

export const DEFAULT_PASSWORD = 'correct horse battery';

/** A unique email per call, so tests own their data and can run in parallel. */
export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomUUID()}@example.test`;
}

/** Registers a user (new family as owner, or joining `invite_code`) and loads their family. */
export async function registerFamily(t: RunningApp, overrides: RegisterOverrides = {}): Promise<RegisteredUser> {
  const email = overrides.email ?? uniqueEmail();
  const password = overrides.password ?? DEFAULT_PASSWORD;
  const body = { email, password, name: overrides.name ?? 'Test Parent', ...(overrides.invite_code ? { invite_code: overrides.invite_code } : {}) };
  const req = t.http().post('/api/v1/auth/register');
  if (overrides.ip) req.set('X-Forwarded-For', overrides.ip);
  const res = await req.send(body);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  const me = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${res.body.access_token}`);
  if (me.status !== 200 || !me.body.family) throw new Error(`me failed: ${me.status} ${JSON.stringify(me.body)}`);
  return {
    token: res.body.access_token,
    refreshToken: res.body.refresh_token,
    user: res.body.user,
    family: me.body.family,
    inviteCode: me.body.family.invite_code,
    email,
    password,
  };
}

/** Registers a second caregiver into the family of `inviteCode` (as member). */
export function joinFamily(t: RunningApp, inviteCode: string, overrides: Omit<RegisterOverrides, 'invite_code'> = {}): Promise<RegisteredUser> {
  return registerFamily(t, { ...overrides, invite_code: inviteCode });
}

/** An owner and one member of the same family. */
export async function familyWithMember(t: RunningApp): Promise<{ owner: RegisteredUser; member: RegisteredUser }> {
  const owner = await registerFamily(t);
  const member = await joinFamily(t, owner.inviteCode);
  return { owner, member };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * A real access token re-signed with the test secret, its claims changed by `change` (say, its times
 * moved): what the app cannot tell from a token it issued itself at another moment.
 */
export async function resignToken(token: string, change: (claims: Record<string, number>) => Record<string, unknown>): Promise<string> {
  const { JwtService } = await import('@nestjs/jwt');
  const { testEnv } = await import('../setup/test-app.js');
  const jwt = new JwtService({ secret: testEnv().JWT_SECRET });
  return jwt.sign(change(jwt.decode<Record<string, number>>(token)));
}
