import { randomUUID } from 'node:crypto';
import type { TestApp } from '../setup/test-app.js';

export interface Member {
  token: string;
  userId: string;
  familyId: string;
  inviteCode: string;
}

/** Registers a new user through the real endpoint (a new family unless an invite code is given). */
export async function register(t: TestApp, inviteCode?: string): Promise<Member> {
  const res = await t
    .http()
    .post('/api/v1/auth/register')
    .send({ email: `sync-${randomUUID()}@example.com`, password: 'correct horse battery', ...(inviteCode ? { invite_code: inviteCode } : {}) })
    .expect(201);
  const token: string = res.body.access_token;
  const family = await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${token}`).expect(200);
  return { token, userId: res.body.user.id, familyId: res.body.user.family_id, inviteCode: family.body.invite_code };
}

/** An owner and `members` more caregivers of the same family. */
export async function registerFamily(t: TestApp, members = 0): Promise<Member[]> {
  const owner = await register(t);
  const others = [];
  for (let i = 0; i < members; i++) others.push(await register(t, owner.inviteCode));
  return [owner, ...others];
}
