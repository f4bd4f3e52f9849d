import { bearer, familyWithMember, type RegisteredUser } from '../factories/auth.factory.js';
import { useTestApp } from '../setup/test-app.js';

/**
 * Two families side by side: whatever a member of B sends, family A is
 * neither visible nor changed.
 */
describe('family scoping (e2e)', () => {
  const t = useTestApp();
  let a: { owner: RegisteredUser; member: RegisteredUser };
  let b: { owner: RegisteredUser; member: RegisteredUser };

  beforeAll(async () => {
    a = await familyWithMember(t);
    b = await familyWithMember(t);
    await t.http().patch('/api/v1/families/me').set(bearer(a.owner.token)).send({ patient_name: 'Patient A', notes: 'secret A' }).expect(200);
  });

  const snapshotA = async () => ({
    family: (await t.db.query('SELECT * FROM families WHERE id = $1', [a.owner.family.id]))[0],
    users: await t.db.query('SELECT id, family_id, role FROM users WHERE family_id = $1 ORDER BY id', [a.owner.family.id]),
    liveTokens: (await t.db.query(
      'SELECT count(*)::int AS n FROM refresh_tokens WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE family_id = $1)',
      [a.owner.family.id],
    ))[0].n,
  });

  it('every read answers only with the caller family', async () => {
    for (const user of [b.owner, b.member]) {
      const family = await t.http().get('/api/v1/families/me').set(bearer(user.token)).expect(200);
      expect(family.body.id).toBe(b.owner.family.id);
      expect(JSON.stringify(family.body)).not.toContain(a.owner.family.id);
      expect(JSON.stringify(family.body)).not.toContain('Patient A');
      const me = await t.http().get('/api/v1/auth/me').set(bearer(user.token)).expect(200);
      expect(me.body.family.id).toBe(b.owner.family.id);
    }
  });

  it('no endpoint lets a member of B alter family A', async () => {
    const before = await snapshotA();
    const asB = (token: string) => [
      t.http().patch('/api/v1/families/me').set(bearer(token)).send({ patient_name: 'hijacked' }),
      t.http().post('/api/v1/families/me/invite-code').set(bearer(token)),
      t.http().delete(`/api/v1/families/me/members/${a.member.user.id}`).set(bearer(token)),
      t.http().delete(`/api/v1/families/me/members/${a.owner.user.id}`).set(bearer(token)),
    ];
    for (const req of [...asB(b.owner.token), ...asB(b.member.token)]) await req;
    // Client-supplied family ids are not an authority anywhere.
    const withId = await t.http().patch('/api/v1/families/me').set(bearer(b.owner.token)).send({ id: a.owner.family.id, family_id: a.owner.family.id });
    expect(withId.status).toBe(400);
    const after = await snapshotA();
    expect(after).toEqual(before);
  });

  it("deleting A's members as B's owner answers 404, as for an unknown id", async () => {
    for (const id of [a.member.user.id, a.owner.user.id]) {
      const res = await t.http().delete(`/api/v1/families/me/members/${id}`).set(bearer(b.owner.token)).expect(404);
      expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Member not found', details: { code: 'NOT_FOUND' } });
    }
  });

  it("B's PATCH and invite-code only touch B", async () => {
    const bBefore = (await t.db.query('SELECT invite_code FROM families WHERE id = $1', [b.owner.family.id]))[0].invite_code;
    const aBefore = await snapshotA();
    const res = await t.http().post('/api/v1/families/me/invite-code').set(bearer(b.owner.token)).expect(200);
    expect(res.body.invite_code).not.toBe(bBefore);
    await t.http().patch('/api/v1/families/me').set(bearer(b.member.token)).send({ patient_name: 'Patient B' }).expect(200);
    expect(await snapshotA()).toEqual(aBefore);
  });
});
