import { randomBytes, randomUUID } from 'node:crypto';
import { bearer, familyWithMember, joinFamily, registerFamily, type RegisteredUser } from '../factories/auth.factory.js';
import { changesOf, pull, push } from '../factories/sync.factory.js';
import { expectEnded, openEvents } from '../setup/event-stream.js';
import { useTestApp } from '../setup/test-app.js';

/** DELETE /api/v1/auth/me: a user deletes their own account (attacker's side included). */
describe('account deletion (e2e)', () => {
  const t = useTestApp();

  const deleteAccount = (token: string, password: unknown) => t.http().delete('/api/v1/auth/me').set(bearer(token)).send({ password });
  const login = (user: RegisteredUser) => t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
  const userRows = async (userId: string) => (await t.db.query('SELECT count(*)::int AS n FROM users WHERE id = $1', [userId]))[0].n as number;
  const pdf = () => Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(2000), Buffer.from('\n%%EOF\n')]);

  it('a member deletes their account: every sign-in ends, the email is free again; the family keeps what they entered (records, files) and gets a new invite code', async () => {
    const { owner, member } = await familyWithMember(t);
    const secondDevice = (await login(member).expect(200)).body;
    const caller = { token: member.token, familyId: member.family.id };
    const reminder = randomUUID();
    await push(t, caller, 0, changesOf('reminders', { created: [{ id: reminder, title: 'chelation', remind_at: 1, frequency: 'daily', is_completed: false }] }), 'member-phone').expect(200);
    const upload = await t
      .http()
      .post('/api/v1/upload')
      .set(bearer(member.token))
      .field('name', 'Discharge letter')
      .field('category', 'discharge_summary')
      .attach('file', pdf(), 'letter.pdf')
      .expect(201);
    const ownerPhone = await pull(t, { token: owner.token, familyId: owner.family.id }, null, 'owner-phone').expect(200);
    const stream = await openEvents(t, secondDevice.access_token);
    try {
      await stream.waitFor((e) => e.type === 'sync');
      await deleteAccount(member.token, member.password).expect(204);
      await expectEnded(stream, 'account deletion');
    } finally {
      await stream.close();
    }

    // Every token of theirs, on every device, is refused; so is the password.
    for (const token of [member.token, secondDevice.access_token]) await t.http().get('/api/v1/auth/me').set(bearer(token)).expect(401);
    for (const refresh of [member.refreshToken, secondDevice.refresh_token]) await t.http().post('/api/v1/auth/refresh').send({ refresh_token: refresh }).expect(401);
    expect((await login(member).expect(401)).body.details.code).toBe('INVALID_CREDENTIALS');
    expect(await userRows(member.user.id)).toBe(0);
    const rows = async (table: string) => (await t.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE user_id = $1`, [member.user.id]))[0].n;
    expect(await rows('refresh_tokens')).toBe(0);
    // The record of their phone's last push stays: the family's, it recognizes that push repeated by
    // whoever signs in on the phone next (test/e2e/sync-client.e2e-spec.ts).
    expect(await rows('sync_last_pushes')).toBe(1);

    // The family's medical history stays: the reminder, the document and its file.
    expect(await t.db.query('SELECT deleted_at FROM reminders WHERE id = $1', [reminder])).toEqual([{ deleted_at: null }]);
    const file = await t.http().get(upload.body.file_url).set(bearer(owner.token)).expect(200);
    expect(file.headers['content-type']).toBe('application/pdf');
    const family = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
    expect(family.body.members.map((m: { id: string }) => m.id)).toEqual([owner.user.id]);
    expect(family.body.invite_code).not.toBe(owner.inviteCode);
    const pulled = await pull(t, { token: owner.token, familyId: owner.family.id }, ownerPhone.body.timestamp, 'owner-phone').expect(200);
    expect(pulled.body.changes.families.updated).toEqual([expect.objectContaining({ invite_code: family.body.invite_code })]);
    expect(pulled.body.changes.reminders).toEqual({ created: [], updated: [], deleted: [] });

    // The email can be registered again: a new account, with nothing of the old one.
    const again = await t.http().post('/api/v1/auth/register').send({ email: member.email, password: 'a new password' }).expect(201);
    expect(again.body.user.id).not.toBe(member.user.id);
    expect(again.body.user.family_id).not.toBe(owner.family.id);
  });

  it('a wrong password deletes nothing (401 INVALID_CREDENTIALS, the same answer as a failed login); the token stays good', async () => {
    const owner = await registerFamily(t, { password: 'the owner password' });
    const member = await joinFamily(t, owner.inviteCode, { password: 'the member password' });
    const res = await deleteAccount(member.token, 'not the password').expect(401);
    expect(res.body.details.code).toBe('INVALID_CREDENTIALS');
    // A token of one user with the password of another: it is the caller's password that counts.
    await deleteAccount(member.token, owner.password).expect(401);
    expect([await userRows(member.user.id), await userRows(owner.user.id)]).toEqual([1, 1]);
    await t.http().get('/api/v1/families/me').set(bearer(member.token)).expect(200);
    await t.http().post('/api/v1/auth/refresh').send({ refresh_token: member.refreshToken }).expect(200);
  });

  it("another user's token can only ever delete its own account", async () => {
    const victim = await registerFamily(t);
    const attacker = await registerFamily(t);
    // The route names no user: the attacker, even knowing the victim's password, deletes themselves.
    await deleteAccount(attacker.token, attacker.password).expect(204);
    expect(await userRows(victim.user.id)).toBe(1);
    await t.http().get('/api/v1/families/me').set(bearer(victim.token)).expect(200);
    // A forged or unsigned token: 401, nothing deleted.
    await t.http().delete('/api/v1/auth/me').send({ password: victim.password }).expect(401);
    const [header, payload] = victim.token.split('.');
    await deleteAccount(`${header}.${payload}.${'A'.repeat(43)}`, victim.password).expect(401);
    expect(await userRows(victim.user.id)).toBe(1);
  });

  it('the owner of a family with members gets 409 OWNER_HAS_MEMBERS and nothing is deleted; once a member is the owner, the account goes', async () => {
    const { owner, member } = await familyWithMember(t);
    const refused = await deleteAccount(owner.token, owner.password).expect(409);
    expect(refused.body.details.code).toBe('OWNER_HAS_MEMBERS');
    expect(await userRows(owner.user.id)).toBe(1);
    await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: member.user.id, password: owner.password }).expect(200);
    await deleteAccount(owner.token, owner.password).expect(204);
    const family = await t.http().get('/api/v1/families/me').set(bearer(member.token)).expect(200);
    expect(family.body.members).toEqual([expect.objectContaining({ id: member.user.id, role: 'owner' })]);
  });

  it('a lone owner deletes their account: the family keeps its records and has no invite code any more', async () => {
    const lone = await registerFamily(t);
    await t.http().patch('/api/v1/families/me').set(bearer(lone.token)).send({ patient_name: 'Amira' }).expect(200);
    await deleteAccount(lone.token, lone.password).expect(204);
    expect(await t.db.query('SELECT invite_code, patient_name FROM families WHERE id = $1', [lone.family.id])).toEqual([{ invite_code: null, patient_name: 'Amira' }]);
    expect(await userRows(lone.user.id)).toBe(0);
  });

  it('a user in no family (they left) deletes their account', async () => {
    const { member } = await familyWithMember(t);
    await t.http().post('/api/v1/families/me/leave').set(bearer(member.token)).expect(204);
    await deleteAccount(member.token, member.password).expect(204);
    expect(await userRows(member.user.id)).toBe(0);
  });

  it.each([
    ['no password', {}],
    ['a password that is not a string', { password: 12345678 }],
    ['an unknown field', { password: 'whatever long', user_id: randomUUID() }],
  ])('%s: 400 naming the field, nothing deleted', async (_, body) => {
    const lone = await registerFamily(t);
    const res = await t.http().delete('/api/v1/auth/me').set(bearer(lone.token)).send(body).expect(400);
    expect(res.body.details.code).toBe('VALIDATION_FAILED');
    expect(res.body.details.fields.map((f: { field: string }) => f.field)).toEqual(['user_id' in body ? 'user_id' : 'password']);
    expect(await userRows(lone.user.id)).toBe(1);
  });

  it('two deletions at once: one 204, the other 401 (its user is gone) or 409; nothing half done', async () => {
    const { owner, member } = await familyWithMember(t);
    const [a, b] = await Promise.all([deleteAccount(member.token, member.password), deleteAccount(member.token, member.password)]);
    expect([a.status, b.status].filter((s) => s === 204)).toHaveLength(1);
    expect([a.status, b.status].every((s) => [204, 401, 409].includes(s))).toBe(true);
    expect(await userRows(member.user.id)).toBe(0);
    const family = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
    expect(family.body.members.map((m: { id: string }) => m.id)).toEqual([owner.user.id]);
  });
});
