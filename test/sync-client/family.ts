import { randomUUID } from 'node:crypto';
import type { RunningApp } from '../setup/test-app.js';

export interface Member {
  email: string;
  password: string;
  token: string;
  userId: string;
  familyId: string;
  inviteCode: string;
}

/** Registers a new user through the real endpoint (a new family unless an invite code is given). */
export async function register(t: RunningApp, inviteCode?: string): Promise<Member> {
  const email = `sync-${randomUUID()}@example.com`;
  const password = 'correct horse battery';
  const res = await t
    .http()
    .post('/api/v1/auth/register')
    .send({ email, password, ...(inviteCode ? { invite_code: inviteCode } : {}) })
    .expect(201);
  const token: string = res.body.access_token;
  const family = await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${token}`).expect(200);
  return { email, password, token, userId: res.body.user.id, familyId: res.body.user.family_id, inviteCode: family.body.invite_code };
}

/** An owner and `members` more caregivers of the same family. */
export async function registerFamily(t: RunningApp, members = 0): Promise<Member[]> {
  const owner = await register(t);
  const others = [];
  for (let i = 0; i < members; i++) others.push(await register(t, owner.inviteCode));
  return [owner, ...others];
}

type AnyChanges = Record<string, { created?: unknown[]; updated?: unknown[]; deleted?: unknown[] } | unknown>;

/**
 * Raw-HTTP tests build records without `family_id`; the app sets it on every record it creates
 * (the server refuses a new record without it). Adds it where the record has no `family_id` key,
 * so a test that sets one (or '' / null) on purpose keeps its value.
 */
export function withFamilyId<T>(changes: T, familyId: string): T {
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) return changes;
  const out: AnyChanges = {};
  for (const [table, part] of Object.entries(changes as AnyChanges)) {
    if (table === 'families' || typeof part !== 'object' || part === null || Array.isArray(part)) {
      out[table] = part;
      continue;
    }
    const add = (list: unknown) =>
      Array.isArray(list) ? list.map((r) => (r && typeof r === 'object' && !Array.isArray(r) && !('family_id' in r) ? { ...r, family_id: familyId } : r)) : list;
    const p = part as { created?: unknown; updated?: unknown };
    out[table] = { ...part, ...('created' in p ? { created: add(p.created) } : {}), ...('updated' in p ? { updated: add(p.updated) } : {}) };
  }
  return out as T;
}
