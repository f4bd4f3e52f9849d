import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { FamilyVersionService } from '../../src/common/versioning/family-version.service.js';
import { FamilyMembershipService } from '../../src/modules/families/family-membership.service.js';
import { connectionName } from '../../src/database/connection-name.js';
import { bearer, familyWithMember, joinFamily, registerFamily, type RegisteredUser } from '../factories/auth.factory.js';
import { changesOf, pull, push } from '../factories/sync.factory.js';
import { useTestApp } from '../setup/test-app.js';
import { sessionsWaitingBehind, until } from '../setup/wait.js';
import { Device } from '../sync-client/device.js';

describe('families (e2e)', () => {
  const t = useTestApp();

  const syncVersion = async (familyId: string): Promise<number> =>
    Number((await t.db.query('SELECT sync_version FROM families WHERE id = $1', [familyId]))[0].sync_version);

  describe('GET /families/me', () => {
    it('returns patient info, the invite code and members with roles', async () => {
      const { owner, member } = await familyWithMember(t);
      const res = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(res.body).toEqual({
        id: owner.family.id,
        invite_code: owner.inviteCode,
        patient_name: null,
        patient_birth_date: null,
        patient_weight_kg: null,
        patient_blood_group: null,
        patient_diagnosis: null,
        notes: null,
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
        members: [
          { id: owner.user.id, email: owner.email, name: 'Test Parent', role: 'owner' },
          { id: member.user.id, email: member.email, name: 'Test Parent', role: 'member' },
        ],
      });
    });

    it('requires a token', async () => {
      await t.http().get('/api/v1/families/me').expect(401);
    });

    it('has a server-only deleted_at, like every synced table: NULL, never in a response or a pull', async () => {
      const owner = await registerFamily(t);
      const [row] = await t.db.query('SELECT deleted_at FROM families WHERE id = $1', [owner.family.id]);
      expect(row).toEqual({ deleted_at: null });
      const res = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(res.body).not.toHaveProperty('deleted_at');
      const pull = await t.http().get('/api/v1/sync').set(bearer(owner.token)).expect(200);
      const [family] = pull.body.changes.families.created;
      expect(family.id).toBe(owner.family.id);
      expect(family).not.toHaveProperty('deleted_at');
    });
  });

  describe('PATCH /families/me', () => {
    it('updates patient fields, returns them and bumps sync_version', async () => {
      const { owner, member } = await familyWithMember(t);
      const before = await syncVersion(owner.family.id);
      const patch = {
        patient_name: 'Amira',
        patient_birth_date: 1420070400000,
        patient_weight_kg: 24.5,
        patient_blood_group: 'A+',
        patient_diagnosis: 'beta-thalassemia major',
        notes: 'Deferasirox daily',
      };
      // Any member may edit patient information, not only the owner.
      const res = await t.http().patch('/api/v1/families/me').set(bearer(member.token)).send(patch).expect(200);
      expect(res.body).toMatchObject({ ...patch, id: owner.family.id });
      expect(res.body.members).toHaveLength(2);
      const after = await syncVersion(owner.family.id);
      expect(after).toBeGreaterThan(before);
      const [row] = await t.db.query('SELECT server_version, updated_by FROM families WHERE id = $1', [owner.family.id]);
      expect(Number(row.server_version)).toBe(after);
      expect(row.updated_by).toBe(member.user.id);

      const read = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(read.body).toMatchObject(patch);
    });

    it('a PATCH that changes nothing ({} or the stored values) bumps neither sync_version nor updated_at', async () => {
      const owner = await registerFamily(t);
      await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ patient_name: 'Amira', patient_blood_group: 'A+' }).expect(200);
      const [before] = await t.db.query('SELECT sync_version, server_version, updated_at FROM families WHERE id = $1', [owner.family.id]);
      for (const body of [{}, { patient_name: 'Amira' }, { patient_blood_group: 'A+', notes: null }]) {
        const res = await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send(body).expect(200);
        expect(res.body).toMatchObject({ patient_name: 'Amira', patient_blood_group: 'A+', updated_at: Number(before.updated_at) });
      }
      const [after] = await t.db.query('SELECT sync_version, server_version, updated_at FROM families WHERE id = $1', [owner.family.id]);
      expect(after).toEqual(before);
    });

    it('keeps omitted fields and clears fields sent as null', async () => {
      const owner = await registerFamily(t);
      await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ patient_name: 'Amira', notes: 'n' }).expect(200);
      const res = await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ notes: null }).expect(200);
      expect(res.body).toMatchObject({ patient_name: 'Amira', notes: null });
    });

    it.each([
      [{ patient_weight_kg: 'heavy' }, 'patient_weight_kg'],
      [{ patient_weight_kg: -3 }, 'patient_weight_kg'],
      [{ patient_weight_kg: 900 }, 'patient_weight_kg'],
      [{ patient_birth_date: 'yesterday' }, 'patient_birth_date'],
      [{ patient_birth_date: 1.5 }, 'patient_birth_date'],
      [{ patient_blood_group: 'Z' }, 'patient_blood_group'],
      [{ patient_name: 42 }, 'patient_name'],
      [{ patient_name: 'x'.repeat(201) }, 'patient_name'],
      [{ invite_code: 'AAAAAA' }, 'invite_code'],
      [{ sync_version: 1 }, 'sync_version'],
      [{ id: '00000000-0000-0000-0000-000000000000' }, 'id'],
    ])('rejects %j with 400 naming the field, and changes nothing', async (body, field) => {
      const owner = await registerFamily(t);
      const before = await syncVersion(owner.family.id);
      const res = await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send(body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request', details: { code: 'VALIDATION_FAILED' } });
      expect(res.body.details.fields.map((f: { field: string }) => f.field)).toContain(field);
      expect(res.body.message).toContain(field);
      expect(await syncVersion(owner.family.id)).toBe(before);
      const [row] = await t.db.query('SELECT invite_code FROM families WHERE id = $1', [owner.family.id]);
      expect(row.invite_code).toBe(owner.inviteCode);
    });
  });

  /**
   * PATCH and a sync push of the family row take exactly the same values (the sync registry's rule):
   * a value PATCH stored that a push refused would block every push of every phone that edits the
   * family row (a push is all or nothing), until someone changed it again.
   */
  describe('PATCH /families/me and a sync push of the family row agree', () => {
    /** 20,000 "❤️" are 40,000 code points (U+2764 U+FE0F), which sync counts. */
    const hearts = (n: number) => '\u2764\uFE0F'.repeat(n);
    const pushFamilyRow = async (user: RegisteredUser, values: Record<string, unknown>) => {
      const pulled = (await t.http().get('/api/v1/sync').set(bearer(user.token)).expect(200)).body;
      const [row] = pulled.changes.families.created;
      return t
        .http()
        .post(`/api/v1/sync?last_pulled_at=${pulled.timestamp}`)
        .set(bearer(user.token))
        .send({ changes: { families: { created: [], updated: [{ ...row, ...values }], deleted: [] } } });
    };

    it('refuses notes of 20,000 ❤️ (40,000 code points) with 400 naming notes, as a push would, and stores nothing', async () => {
      const owner = await registerFamily(t);
      const before = await syncVersion(owner.family.id);
      const res = await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ notes: hearts(20_000) }).expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'notes must be at most 20000 characters',
        details: { code: 'VALIDATION_FAILED', fields: [{ field: 'notes', errors: ['notes must be at most 20000 characters'] }] },
      });
      expect(await syncVersion(owner.family.id)).toBe(before);
      const push = await pushFamilyRow(owner, { notes: hearts(20_000) });
      expect(push.status).toBe(422);
      expect(push.body.message).toContain('notes: must be at most 20000 characters');
    });

    it('notes of the longest length PATCH takes are pushed by a member\'s phone editing the family row', async () => {
      const { owner, member } = await familyWithMember(t);
      const notes = hearts(10_000); // 20,000 code points: the limit
      await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ notes }).expect(200);
      const phone = new Device({ baseUrl: t.baseUrl, token: member.token, familyId: owner.family.id });
      await phone.sync();
      expect(await phone.find('families', owner.family.id)).toMatchObject({ notes });
      await phone.update('families', owner.family.id, { patient_name: 'Amira' });
      await phone.sync(); // the push carries the whole row, notes included
      const me = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(me.body).toMatchObject({ patient_name: 'Amira', notes });
    });

    it.each([
      ['patient_weight_kg', '0.005', 'accept', 0.005],
      ['patient_weight_kg', '499.995', 'accept', 499.995],
      ['patient_weight_kg', '0', 'refuse', 0],
      ['patient_weight_kg', '500', 'refuse', 500],
      ['patient_weight_kg', 'the string "24.5"', 'refuse', '24.5'],
      ['patient_name', '200 × é', 'accept', 'é'.repeat(200)],
      ['patient_name', '100 × ❤️ + x (201 code points)', 'refuse', hearts(100) + 'x'],
      ['patient_birth_date', '1900-01-01', 'accept', -2_208_988_800_000],
      ['patient_birth_date', '1 ms before 1900', 'refuse', -2_208_988_800_001],
      ['patient_blood_group', 'AB-', 'accept', 'AB-'],
      ['patient_blood_group', 'ab-', 'refuse', 'ab-'],
      ['patient_diagnosis', 'a lone surrogate', 'refuse', '\uD800'],
      ['patient_diagnosis', '500 × 😀 (500 code points, the limit)', 'accept', '😀'.repeat(500)],
      ['patient_diagnosis', '501 characters', 'refuse', 'x'.repeat(501)],
    ])('%s = %s: PATCH and push both %s it', async (field, _label, verdict, value) => {
      const accepted = verdict === 'accept';
      const owner = await registerFamily(t);
      const patch = await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ [field]: value });
      expect(patch.status).toBe(accepted ? 200 : 400);
      if (!accepted) expect(patch.body.details.fields).toEqual([{ field, errors: [expect.stringMatching(new RegExp(`^${field} must `))] }]);
      // A push of the same value by another new family: its row is as the PATCH found it.
      const other = await registerFamily(t);
      const push = await pushFamilyRow(other, { [field]: value });
      expect(push.status).toBe(accepted ? 200 : 422);
      // The same rule, so the same words: `<field> <message>` here, the push's message there.
      if (!accepted) expect(push.body.details).toMatchObject({ field, errors: [{ field, message: patch.body.details.fields[0].errors[0].slice(field.length + 1) }] });
      if (accepted) {
        const [patched, pushed] = await Promise.all(
          [owner, other].map(async (u) => (await t.http().get('/api/v1/families/me').set(bearer(u.token)).expect(200)).body[field]),
        );
        expect(patched).toEqual(value);
        expect(pushed).toEqual(value);
        // And the row as PATCH stored it goes back up whole, as a phone that edits it pushes it.
        expect((await pushFamilyRow(owner, {})).status).toBe(200);
      }
    });

    it("an unset blood group ('') is stored as null by both, as WatermelonDB sends it", async () => {
      const owner = await registerFamily(t);
      await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ patient_blood_group: 'A+' }).expect(200);
      const res = await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ patient_blood_group: '' }).expect(200);
      expect(res.body.patient_blood_group).toBeNull();
      const other = await registerFamily(t);
      await t.http().patch('/api/v1/families/me').set(bearer(other.token)).send({ patient_blood_group: 'A+' }).expect(200);
      expect((await pushFamilyRow(other, { patient_blood_group: '' })).status).toBe(200);
      const me = await t.http().get('/api/v1/families/me').set(bearer(other.token)).expect(200);
      expect(me.body.patient_blood_group).toBeNull();
    });

    it('documents the sync limits in OpenAPI', async () => {
      const schema = (await t.http().get('/docs-json').expect(200)).body.components.schemas.UpdateFamilyDto;
      expect(schema.properties.notes).toMatchObject({ type: 'string', nullable: true, maxLength: 20_000, description: expect.any(String), example: expect.any(String) });
      expect(schema.properties.patient_weight_kg).toMatchObject({ minimum: 0, exclusiveMinimum: true, maximum: 500, exclusiveMaximum: true, example: 24.5 });
      // '' and null clear it (stored as null), as PATCH accepts them.
      expect(schema.properties.patient_blood_group).toMatchObject({ nullable: true, enum: ['O+', 'O-', 'A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', '', null] });
      expect(schema.required ?? []).toEqual([]);
    });
  });

  describe('POST /families/me/invite-code', () => {
    it('owner gets a new code; the old code stops working, the new one works', async () => {
      const owner = await registerFamily(t);
      const before = await syncVersion(owner.family.id);
      const res = await t.http().post('/api/v1/families/me/invite-code').set(bearer(owner.token)).expect(200);
      expect(res.body.invite_code).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
      expect(res.body.invite_code).not.toBe(owner.inviteCode);
      expect(await syncVersion(owner.family.id)).toBeGreaterThan(before);

      const old = await t.http().post('/api/v1/auth/register').send({ email: `old-${Date.now()}@example.test`, password: 'long enough pw', invite_code: owner.inviteCode });
      expect(old.status).toBe(404);
      const stranger = await registerFamily(t);
      await t.http().post('/api/v1/auth/join-family').set(bearer(stranger.token)).send({ invite_code: owner.inviteCode }).expect(404);

      const member = await joinFamily(t, res.body.invite_code.toLowerCase());
      expect(member.family.id).toBe(owner.family.id);
    });

    it('a member gets 403 and the code is unchanged', async () => {
      const { owner, member } = await familyWithMember(t);
      const res = await t.http().post('/api/v1/families/me/invite-code').set(bearer(member.token)).expect(403);
      expect(res.body).toMatchObject({ statusCode: 403, error: 'Forbidden', details: { code: 'OWNER_ONLY' } });
      const family = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(family.body.invite_code).toBe(owner.inviteCode);
    });
  });

  describe('DELETE /families/me/members/:userId', () => {
    it('owner removes a member, whose sign-ins end at once (access and refresh tokens); signed in again, they are in no family', async () => {
      const { owner, member } = await familyWithMember(t);
      // The member signs in on a second device too.
      const second = await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200);
      const before = await syncVersion(owner.family.id);

      await t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);
      expect(await syncVersion(owner.family.id)).toBeGreaterThan(before);

      // The access tokens are still validly signed and unexpired, but their sign-ins have ended.
      for (const token of [member.token, second.body.access_token]) {
        const res = await t.http().get('/api/v1/families/me').set(bearer(token)).expect(401);
        expect(res.body).toMatchObject({ statusCode: 401, details: { code: 'UNAUTHENTICATED' } });
        await t.http().patch('/api/v1/families/me').set(bearer(token)).send({ notes: 'x' }).expect(401);
      }
      // Signed in again: the account is intact, the membership is gone.
      const again = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
      const res = await t.http().get('/api/v1/families/me').set(bearer(again)).expect(403);
      expect(res.body).toMatchObject({ statusCode: 403, details: { code: 'NO_FAMILY' } });
      await t.http().patch('/api/v1/families/me').set(bearer(again)).send({ notes: 'x' }).expect(403);
      const me = await t.http().get('/api/v1/auth/me').set(bearer(again)).expect(200);
      expect(me.body).toMatchObject({ user: { family_id: null, role: null }, family: null });

      for (const token of [member.refreshToken, second.body.refresh_token]) {
        await t.http().post('/api/v1/auth/refresh').send({ refresh_token: token }).expect(401);
      }
      const [{ live }] = await t.db.query('SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [member.user.id]);
      expect(live).toBe(1); // the new sign-in's

      const family = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(family.body.members.map((m: { id: string }) => m.id)).toEqual([owner.user.id]);
      // The owner's own sign-in is untouched.
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: owner.refreshToken }).expect(200);
    });

    it('replaces the invite code: the removed member cannot rejoin with the code they saw; the others get the new one', async () => {
      const { owner, member } = await familyWithMember(t);
      const third = await joinFamily(t, owner.inviteCode);
      // Every member sees the code.
      const seen = await t.http().get('/api/v1/families/me').set(bearer(member.token)).expect(200);
      expect(seen.body.invite_code).toBe(owner.inviteCode);
      const pulled = await t.http().get('/api/v1/sync').set(bearer(third.token)).expect(200);

      await t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);

      const signedIn = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
      for (const rejoin of [
        t.http().post('/api/v1/auth/join-family').set(bearer(signedIn)).send({ invite_code: owner.inviteCode }),
        t.http().post('/api/v1/auth/register').send({ email: `rejoin-${Date.now()}@example.test`, password: 'long enough pw', invite_code: owner.inviteCode }),
      ]) {
        const res = await rejoin.expect(404);
        expect(res.body).toMatchObject({ statusCode: 404, details: { code: 'INVITE_CODE_INVALID' } });
      }
      const me = await t.http().get('/api/v1/auth/me').set(bearer(signedIn)).expect(200);
      expect(me.body.user.family_id).toBeNull();

      // The remaining members see the new code, on REST and on their devices' next pull.
      const now = await t.http().get('/api/v1/families/me').set(bearer(third.token)).expect(200);
      expect(now.body.invite_code).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
      expect(now.body.invite_code).not.toBe(owner.inviteCode);
      expect((await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200)).body.invite_code).toBe(now.body.invite_code);
      const pull = await t.http().get(`/api/v1/sync?last_pulled_at=${pulled.body.timestamp}`).set(bearer(third.token)).expect(200);
      expect(pull.body.changes.families.updated).toEqual([expect.objectContaining({ id: owner.family.id, invite_code: now.body.invite_code })]);
      // The new code works for whoever the owner gives it to.
      expect((await joinFamily(t, now.body.invite_code)).family.id).toBe(owner.family.id);
    });

    it('requests of the removed member still in flight during the removal never return the new invite code', async () => {
      // The guard let them in before the removal; a read that then saw the family after it would
      // hand them the code that the removal replaced to keep them out (found by review: 19 of 20).
      let leaked = 0;
      for (let trial = 0; trial < 10; trial++) {
        const { owner, member } = await familyWithMember(t);
        let removed = false;
        const answers: Array<{ status: number; body: { invite_code?: string; family?: { invite_code?: string } | null } }> = [];
        // Keep reads going until the removal has answered, then a few more.
        const reader = async (path: string) => {
          for (let after = 0; after < 3; after += removed ? 1 : 0) answers.push(await t.http().get(path).set(bearer(member.token)));
        };
        const readers = ['/api/v1/families/me', '/api/v1/auth/me', '/api/v1/families/me', '/api/v1/auth/me'].map(reader);
        await new Promise((r) => setTimeout(r, 20));
        await t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);
        removed = true;
        await Promise.all(readers);
        const { invite_code: current } = (await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200)).body;
        for (const answer of answers) {
          expect([200, 401, 409]).toContain(answer.status);
          if ((answer.body.invite_code ?? answer.body.family?.invite_code) === current) leaked++;
        }
      }
      expect(leaked).toBe(0);
    });

    it('a member cannot remove anyone (403)', async () => {
      const { owner, member } = await familyWithMember(t);
      const third = await joinFamily(t, owner.inviteCode);
      await t.http().delete(`/api/v1/families/me/members/${third.user.id}`).set(bearer(member.token)).expect(403);
      await t.http().delete(`/api/v1/families/me/members/${owner.user.id}`).set(bearer(member.token)).expect(403);
      const family = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(family.body.members).toHaveLength(3);
    });

    it("another family's member and a non-existent id both answer the same 404", async () => {
      const owner = await registerFamily(t);
      const { member: foreign } = await familyWithMember(t);
      const other = await t.http().delete(`/api/v1/families/me/members/${foreign.user.id}`).set(bearer(owner.token)).expect(404);
      const missing = await t.http().delete('/api/v1/families/me/members/6f1c2b0e-9a7d-4c1e-8b7a-2d3e4f5a6b7c').set(bearer(owner.token)).expect(404);
      expect(other.body).toEqual(missing.body);
      // The foreign member was not touched.
      await t.http().get('/api/v1/families/me').set(bearer(foreign.token)).expect(200);
    });

    it('the owner cannot remove themselves: 422 naming userId in details.fields', async () => {
      const owner = await registerFamily(t);
      const self = await t.http().delete(`/api/v1/families/me/members/${owner.user.id}`).set(bearer(owner.token)).expect(422);
      expect(self.body).toEqual({
        statusCode: 422,
        error: 'Unprocessable Entity',
        message: 'The owner cannot remove themselves from the family',
        details: { code: 'VALIDATION_FAILED', fields: [{ field: 'userId', errors: ['The owner cannot remove themselves from the family'] }] },
      });
      await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
    });

    it('the owner cannot remove themselves by their id in upper case either (it left the family ownerless, its new code open)', async () => {
      const { owner, member } = await familyWithMember(t);
      await t.http().delete(`/api/v1/families/me/members/${owner.user.id.toUpperCase()}`).set(bearer(owner.token)).expect(422);
      const family = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(family.body.invite_code).toBe(owner.inviteCode);
      expect(family.body.members).toEqual([
        expect.objectContaining({ id: owner.user.id, role: 'owner' }),
        expect.objectContaining({ id: member.user.id, role: 'member' }),
      ]);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: owner.refreshToken }).expect(200);
    });

    it.each(['not-a-uuid', 'xyz', '6f1c2b0e9a7d4c1e8b7a2d3e4f5a6b7c', '6f1c2b0e-9a7d-4c1e-8b7a-2d3e4f5a6b7cc'])(
      'a malformed member id (%s) answers 400 naming userId, in the shape of every validation error',
      async (id) => {
        const owner = await registerFamily(t);
        const bad = await t.http().delete(`/api/v1/families/me/members/${id}`).set(bearer(owner.token)).expect(400);
        expect(bad.body).toEqual({
          statusCode: 400,
          error: 'Bad Request',
          message: 'userId must be a UUID',
          details: { code: 'VALIDATION_FAILED', fields: [{ field: 'userId', errors: ['userId must be a UUID'] }] },
        });
      },
    );
  });

  describe('a family someone left', () => {
    // Two requests sent at once seldom overlapped: the register hashes its password first, so the leave
    // had committed before the join began, and the test passed with either protection taken out. Here
    // the leave is held where it waits for the family it joins (a lock on that row), on either side
    // of the family it leaves in the order the two are locked (id order), while the join runs.
    it.each(['before', 'after'] as const)(
      'an owner with members cannot leave, even racing a join of their family: the family it joins %s the family left in lock order',
      async (order) => {
        const owner = await registerFamily(t);
        let elsewhere = await registerFamily(t);
        while (elsewhere.family.id < owner.family.id !== (order === 'before')) elsewhere = await registerFamily(t);
        const blocker = t.db.createQueryRunner();
        await blocker.startTransaction();
        await blocker.query('SELECT 1 FROM families WHERE id = $1 FOR UPDATE', [elsewhere.family.id]);
        const [{ pid }] = await blocker.query('SELECT pg_backend_pid() AS pid');
        const asClient = { query: async (sql: string, params: unknown[]) => ({ rows: await t.db.query(sql, params) }) } as unknown as Parameters<typeof sessionsWaitingBehind>[0];
        const queued = (n: number, what: string) => until(async () => (await sessionsWaitingBehind(asClient, pid)) >= n, what);
        let leave: Promise<{ status: number }> | undefined;
        let join: Promise<{ status: number }> | undefined;
        try {
          leave = t.http().post('/api/v1/auth/join-family').set(bearer(owner.token)).send({ invite_code: elsewhere.inviteCode }).then((r) => r);
          await queued(1, 'the leave to wait for the family it joins');
          join = t.http().post('/api/v1/auth/register').send({ email: `racer-${randomUUID()}@example.test`, password: 'long enough pw', invite_code: owner.inviteCode }).then((r) => r);
          if (order === 'before') {
            // The leave waits before it has locked the owner's family: the join commits first, after the
            // leave's early check found the owner alone; the check under the lock refuses the leave.
            expect((await join).status).toBe(201);
          } else {
            // The leave holds the owner's family while it waits: the join queues behind it, and then
            // finds the family retired with its code (nobody left in it).
            await queued(2, 'the join to wait for the leave');
          }
          await blocker.commitTransaction();
          expect([(await join).status, (await leave).status]).toEqual(order === 'before' ? [201, 409] : [404, 200]);
        } finally {
          if (blocker.isTransactionActive) await blocker.rollbackTransaction();
          await blocker.release();
          await Promise.allSettled([join, leave]);
        }
        const [{ members, owners }] = await t.db.query(
          "SELECT count(*)::int AS members, count(*) FILTER (WHERE role = 'owner')::int AS owners FROM users WHERE family_id = $1",
          [owner.family.id],
        );
        expect({ members, owners }).toEqual(order === 'before' ? { members: 2, owners: 1 } : { members: 0, owners: 0 });
      },
    );

    it('a join that takes its time holds the family left: writes to it wait, so the phone\'s next pull is still a replacement', async () => {
      const { owner, member } = await familyWithMember(t);
      const target = await registerFamily(t);
      const transfusion = () => ({ id: randomUUID(), family_id: owner.family.id, date: 1, volume_ml: 250, created_at: 1, updated_at: 1 });
      const push = (token: string, cursor: number) =>
        t.http().post(`/api/v1/sync?last_pulled_at=${cursor}`).set(bearer(token)).send({ changes: { transfusions: { created: [transfusion()], updated: [], deleted: [] } } });
      const first = await t.http().get('/api/v1/sync').set(bearer(member.token)).set('X-Device-Id', 'member-phone').expect(200);
      // Something slows the join down after it has locked the families (here: a lock on the user's row).
      const blocker = t.db.createQueryRunner();
      await blocker.startTransaction();
      await blocker.query('SELECT 1 FROM users WHERE id = $1 FOR SHARE', [member.user.id]);
      const [{ pid }] = await blocker.query('SELECT pg_backend_pid() AS pid');
      // Sessions waiting for the blocker, directly (the join) or queued behind one that does (the owner's push).
      const asClient = { query: async (sql: string, params: unknown[]) => ({ rows: await t.db.query(sql, params) }) } as unknown as Parameters<typeof sessionsWaitingBehind>[0];
      const queued = (n: number, what: string) => until(async () => (await sessionsWaitingBehind(asClient, pid)) >= n, what);
      let join: Promise<unknown> | undefined;
      let ownerPush: Promise<{ status: number; body: { timestamp: number } }> | undefined;
      try {
        join = t.http().post('/api/v1/auth/join-family').set(bearer(member.token)).send({ invite_code: target.inviteCode }).then((r) => r);
        await queued(1, 'the join to wait for the user row');
        // The owner writes to the family being left, and the member's phone pulls, still a member of it.
        ownerPush = push(owner.token, first.body.timestamp).then((r) => r);
        // Not a pause that hopes the push got there: it is seen waiting behind the join.
        await queued(2, "the owner's push to wait for the join's lock on the family left");
        const during = await t.http().get(`/api/v1/sync?last_pulled_at=${first.body.timestamp}`).set(bearer(member.token)).set('X-Device-Id', 'member-phone').expect(200);
        expect(during.body.changes.transfusions.created).toEqual([]); // the owner's write waits for the join
        await blocker.commitTransaction();
        expect(((await join) as { status: number }).status).toBe(200);
        expect((await ownerPush).status).toBe(200);
        // The cursor the phone got from the family left predates the membership: the next pull replaces.
        const after = await t.http().get(`/api/v1/sync?last_pulled_at=${during.body.timestamp}`).set(bearer(member.token)).set('X-Device-Id', 'member-phone').expect(200);
        expect(after.body.experimentalStrategy).toBe('replacement');
        expect(after.body.changes.families.created.map((f: { id: string }) => f.id)).toEqual([target.family.id]);
      } finally {
        if (blocker.isTransactionActive) await blocker.rollbackTransaction();
        await blocker.release();
        await Promise.allSettled([join, ownerPush]);
      }
    });

    it('with members left, gets a new invite code: the one who left cannot come back with the old one; the members see (and their phones pull) the new one', async () => {
      const { owner, member } = await familyWithMember(t);
      const elsewhere = await registerFamily(t);
      const before = await syncVersion(owner.family.id);
      await t.http().post('/api/v1/auth/join-family').set(bearer(member.token)).send({ invite_code: elsewhere.inviteCode }).expect(200);
      const { body: family } = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
      expect(family.invite_code).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
      expect(family.invite_code).not.toBe(owner.inviteCode);
      expect(family.members.map((m: { id: string }) => m.id)).toEqual([owner.user.id]);
      // Back with the code it knew, in any case: refused.
      const back = await t.http().post('/api/v1/auth/join-family').set(bearer(member.token)).send({ invite_code: owner.inviteCode.toLowerCase() }).expect(404);
      expect(back.body.details.code).toBe('INVITE_CODE_INVALID');
      // The family row changed under a new version: the owner's phone pulls the new code.
      expect(await syncVersion(owner.family.id)).toBeGreaterThan(before);
      const pulled = await t.http().get(`/api/v1/sync?last_pulled_at=${before}`).set(bearer(owner.token)).expect(200);
      expect(pulled.body.changes.families.updated.map((f: { invite_code: string }) => f.invite_code)).toEqual([family.invite_code]);
      // Invited again with the new code, it joins.
      await t.http().post('/api/v1/auth/join-family').set(bearer(member.token)).send({ invite_code: family.invite_code }).expect(200);
    });

    it('keeps its records but has no invite code any more when nobody is left (NULL: nothing to guess)', async () => {
      const lone = await registerFamily(t);
      await t.http().patch('/api/v1/families/me').set(bearer(lone.token)).send({ patient_name: 'Amira' }).expect(200);
      const other = await registerFamily(t);
      await t.http().post('/api/v1/auth/join-family').set(bearer(lone.token)).send({ invite_code: other.inviteCode }).expect(200);
      const [left] = await t.db.query('SELECT invite_code, patient_name FROM families WHERE id = $1', [lone.family.id]);
      expect(left).toEqual({ invite_code: null, patient_name: 'Amira' });
      const res = await t.http().post('/api/v1/auth/register').send({ email: `late-${Date.now()}@example.test`, password: 'long enough pw', invite_code: lone.inviteCode }).expect(404);
      expect(res.body.details.code).toBe('INVITE_CODE_INVALID');
      // A second family left empty: the unique index allows any number of NULL codes.
      const lone2 = await registerFamily(t);
      await t.http().post('/api/v1/auth/join-family').set(bearer(lone2.token)).send({ invite_code: other.inviteCode }).expect(200);
      expect((await t.db.query('SELECT invite_code FROM families WHERE id = $1', [lone2.family.id]))[0].invite_code).toBeNull();
      // The family joined keeps its code and its owner.
      expect(await t.db.query('SELECT invite_code FROM families WHERE id = $1', [other.family.id])).toEqual([{ invite_code: other.inviteCode }]);
      expect((await t.db.query('SELECT role FROM users WHERE id = $1', [other.user.id]))[0].role).toBe('owner');
    });
  });
  describe('POST /families/me/leave', () => {
    const caller = (m: RegisteredUser) => ({ token: m.token, familyId: m.family.id });
    const memberIds = async (token: string): Promise<string[]> =>
      (await t.http().get('/api/v1/families/me').set(bearer(token)).expect(200)).body.members.map((m: { id: string }) => m.id);

    it('a member leaves: in no family from the next request, still signed in; the family keeps their records and gets a new invite code, which the owner\'s phone pulls', async () => {
      const { owner, member: leaver } = await familyWithMember(t);
      const reminder = randomUUID();
      await push(t, caller(leaver), 0, changesOf('reminders', { created: [{ id: reminder, title: 'iron chelation', remind_at: 1, frequency: 'daily', is_completed: false }] })).expect(200);
      const ownerPhone = await pull(t, caller(owner), null, 'owner-phone').expect(200);

      await t.http().post('/api/v1/families/me/leave').set(bearer(leaver.token)).expect(204);

      // The same access token: signed in, in no family.
      for (const denied of [t.http().get('/api/v1/families/me'), t.http().get('/api/v1/sync')]) {
        const res = await denied.set(bearer(leaver.token)).expect(403);
        expect(res.body.details.code).toBe('NO_FAMILY');
      }
      const me = await t.http().get('/api/v1/auth/me').set(bearer(leaver.token)).expect(200);
      expect(me.body).toMatchObject({ user: { family_id: null, role: null }, family: null });
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: leaver.refreshToken }).expect(200);

      // The family: their records stay, they are no longer listed, the code they saw is replaced.
      expect(await t.db.query('SELECT family_id::text AS family_id, deleted_at FROM reminders WHERE id = $1', [reminder])).toEqual([{ family_id: owner.family.id, deleted_at: null }]);
      expect(await memberIds(owner.token)).toEqual([owner.user.id]);
      const back = await t.http().post('/api/v1/auth/join-family').set(bearer(leaver.token)).send({ invite_code: owner.inviteCode }).expect(404);
      expect(back.body.details.code).toBe('INVITE_CODE_INVALID');
      const [family] = await t.db.query('SELECT invite_code, server_version, sync_version FROM families WHERE id = $1', [owner.family.id]);
      expect(family.invite_code).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
      expect(family.invite_code).not.toBe(owner.inviteCode);
      const pulled = await pull(t, caller(owner), ownerPhone.body.timestamp, 'owner-phone').expect(200);
      expect(pulled.body.changes.families.updated).toEqual([expect.objectContaining({ id: owner.family.id, invite_code: family.invite_code })]);
      expect(pulled.body.changes.reminders).toEqual({ created: [], updated: [], deleted: [] });

      // They left at the leave's version: a later join or founding is taken above it.
      const [row] = await t.db.query('SELECT family_joined_version FROM users WHERE id = $1', [leaver.user.id]);
      expect(row.family_joined_version).toBe(family.server_version);
      expect(family.sync_version).toBe(family.server_version);
      const founded = await t.http().post('/api/v1/families').set(bearer(leaver.token)).send({ patient_name: 'Amira' }).expect(201);
      expect(founded.body.members).toEqual([expect.objectContaining({ id: leaver.user.id, role: 'owner' })]);
    });

    it('the owner of a family with members gets 409 OWNER_HAS_MEMBERS and nothing changes; once a member is the owner, they leave', async () => {
      const { owner, member: other } = await familyWithMember(t);
      const before = await syncVersion(owner.family.id);
      const res = await t.http().post('/api/v1/families/me/leave').set(bearer(owner.token)).expect(409);
      expect(res.body).toMatchObject({ statusCode: 409, details: { code: 'OWNER_HAS_MEMBERS' } });
      expect(res.body.message).toMatch(/POST \/api\/v1\/families\/me\/owner/);
      expect(await syncVersion(owner.family.id)).toBe(before);
      expect(await t.db.query('SELECT invite_code FROM families WHERE id = $1', [owner.family.id])).toEqual([{ invite_code: owner.inviteCode }]);
      expect(await memberIds(other.token)).toEqual([owner.user.id, other.user.id]);

      await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: other.user.id, password: owner.password }).expect(200);
      await t.http().post('/api/v1/families/me/leave').set(bearer(owner.token)).expect(204);
      const family = await t.http().get('/api/v1/families/me').set(bearer(other.token)).expect(200);
      expect(family.body.members).toEqual([expect.objectContaining({ id: other.user.id, role: 'owner' })]);
    });

    it('a lone owner leaves: the family keeps its records and has no invite code any more', async () => {
      const lone = await registerFamily(t);
      await t.http().patch('/api/v1/families/me').set(bearer(lone.token)).send({ patient_name: 'Amira' }).expect(200);
      await t.http().post('/api/v1/families/me/leave').set(bearer(lone.token)).expect(204);
      expect(await t.db.query('SELECT invite_code, patient_name FROM families WHERE id = $1', [lone.family.id])).toEqual([{ invite_code: null, patient_name: 'Amira' }]);
      const late = await t.http().post('/api/v1/auth/register').send({ email: `late-${randomUUID()}@example.test`, password: 'long enough pw', invite_code: lone.inviteCode }).expect(404);
      expect(late.body.details.code).toBe('INVITE_CODE_INVALID');
      expect((await t.http().get('/api/v1/families/me').set(bearer(lone.token)).expect(403)).body.details.code).toBe('NO_FAMILY');
    });

    it('needs a family (403 NO_FAMILY once left) and a token (401)', async () => {
      const lone = await registerFamily(t);
      await t.http().post('/api/v1/families/me/leave').set(bearer(lone.token)).expect(204);
      const again = await t.http().post('/api/v1/families/me/leave').set(bearer(lone.token)).expect(403);
      expect(again.body.details.code).toBe('NO_FAMILY');
      await t.http().post('/api/v1/families/me/leave').expect(401);
    });

    it('the owner and the last member leaving at once: one order or the other, never members without an owner', async () => {
      for (let trial = 0; trial < 6; trial++) {
        const { owner, member: other } = await familyWithMember(t);
        const [byOwner, byMember] = await Promise.all([
          t.http().post('/api/v1/families/me/leave').set(bearer(owner.token)),
          t.http().post('/api/v1/families/me/leave').set(bearer(other.token)),
        ]);
        expect(byMember.status).toBe(204);
        const [state] = await t.db.query(
          `SELECT f.invite_code, count(u.id)::int AS members, count(u.id) FILTER (WHERE u.role = 'owner')::int AS owners
             FROM families f LEFT JOIN users u ON u.family_id = f.id WHERE f.id = $1 GROUP BY f.id`,
          [owner.family.id],
        );
        if (byOwner.status === 204) {
          // The member left first: the owner was alone, and the family is now empty and closed.
          expect(state).toEqual({ invite_code: null, members: 0, owners: 0 });
        } else {
          expect(byOwner.status).toBe(409);
          expect(byOwner.body.details.code).toBe('OWNER_HAS_MEMBERS');
          expect(state).toMatchObject({ members: 1, owners: 1 });
        }
      }
    });
  });

  describe('a family nobody is in, given a code again by an operator (FamilyMembershipService.issueInviteCode, CLI family:invite-code)', () => {
    it('whoever joins first becomes its owner and pulls its whole history; the next one is a member', async () => {
      const { FamilyMembershipService } = await import('../../src/modules/families/family-membership.service.js');
      const lone = await registerFamily(t);
      const caller = { token: lone.token, familyId: lone.family.id };
      const reminder = randomUUID();
      await push(t, caller, 0, changesOf('reminders', { created: [{ id: reminder, title: 'chelation', remind_at: 1, frequency: 'daily', is_completed: false }] })).expect(200);
      await t.http().post('/api/v1/families/me/leave').set(bearer(lone.token)).expect(204);
      const before = await syncVersion(lone.family.id);

      const { inviteCode: code } = await t.app.get(FamilyMembershipService).issueInviteCode(lone.family.id);
      expect(code).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
      expect(await syncVersion(lone.family.id)).toBeGreaterThan(before);

      // The one who left comes back (by join-family); a new caregiver registers with the code.
      const back = await t.http().post('/api/v1/auth/join-family').set(bearer(lone.token)).send({ invite_code: code }).expect(200);
      expect(back.body.user).toMatchObject({ family_id: lone.family.id, role: 'owner' });
      const pulled = await pull(t, caller, 0).expect(200);
      expect(pulled.body.changes.reminders.created.map((r: { id: string }) => r.id)).toEqual([reminder]);
      const second = await joinFamily(t, code);
      expect(second.user.role).toBe('member');
      await t.http().post('/api/v1/families/me/invite-code').set(bearer(lone.token)).expect(200);
    });

    it('a registration with the code of an empty family makes the new account its owner; a family with members keeps its owner', async () => {
      const { FamilyMembershipService } = await import('../../src/modules/families/family-membership.service.js');
      const lone = await registerFamily(t);
      await t.http().post('/api/v1/families/me/leave').set(bearer(lone.token)).expect(204);
      const { inviteCode: code } = await t.app.get(FamilyMembershipService).issueInviteCode(lone.family.id);
      expect((await joinFamily(t, code)).user.role).toBe('owner');

      const { owner } = await familyWithMember(t);
      const { inviteCode: newCode } = await t.app.get(FamilyMembershipService).issueInviteCode(owner.family.id);
      expect((await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200)).body.invite_code).toBe(newCode);
      expect((await joinFamily(t, newCode)).user.role).toBe('member');
      const old = await t.http().post('/api/v1/auth/register').send({ email: `old-${randomUUID()}@example.test`, password: 'long enough pw', invite_code: owner.inviteCode }).expect(404);
      expect(old.body.details.code).toBe('INVITE_CODE_INVALID');
    });
  });

  describe('POST /families/me/owner', () => {
    const roles = async (token: string): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await t.http().get('/api/v1/families/me').set(bearer(token)).expect(200)).body.members.map((m: { id: string; role: string }) => [m.id, m.role]),
      );

    it('the owner makes a member the owner (200, the family as GET shows it): the new owner manages the family, the former one is a member', async () => {
      const { owner, member: heir } = await familyWithMember(t);
      const third = await joinFamily(t, owner.inviteCode);
      const res = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: heir.user.id.toUpperCase(), password: owner.password }).expect(200);
      expect(res.body).toMatchObject({ id: owner.family.id, invite_code: owner.inviteCode });
      expect(Object.fromEntries(res.body.members.map((m: { id: string; role: string }) => [m.id, m.role]))).toEqual({
        [owner.user.id]: 'member',
        [heir.user.id]: 'owner',
        [third.user.id]: 'member',
      });
      // The same tokens, from the next request: the roles are read from the database.
      const denied = await t.http().post('/api/v1/families/me/invite-code').set(bearer(owner.token)).expect(403);
      expect(denied.body.details.code).toBe('OWNER_ONLY');
      await t.http().delete(`/api/v1/families/me/members/${third.user.id}`).set(bearer(owner.token)).expect(403);
      await t.http().post('/api/v1/families/me/invite-code').set(bearer(heir.token)).expect(200);
      await t.http().delete(`/api/v1/families/me/members/${third.user.id}`).set(bearer(heir.token)).expect(204);
      // And back.
      await t.http().post('/api/v1/families/me/owner').set(bearer(heir.token)).send({ user_id: owner.user.id, password: heir.password }).expect(200);
      expect(await roles(owner.token)).toEqual({ [owner.user.id]: 'owner', [heir.user.id]: 'member' });
    });

    it('a hand-over that committed answers 200 even when the new owner removes the former one before the answer is written (found by review: 409)', async () => {
      const { owner, member: heir } = await familyWithMember(t);
      const versions = t.app.get(FamilyVersionService);
      const write = versions.write.bind(versions);
      // Right after the hand-over commits, before its answer is made: the new owner removes the former one.
      const spy = jest.spyOn(versions, 'write').mockImplementationOnce(async (work, options) => {
        const written = await write(work, options);
        await t.http().delete(`/api/v1/families/me/members/${owner.user.id}`).set(bearer(heir.token)).expect(204);
        return written;
      });
      try {
        const res = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: heir.user.id, password: owner.password }).expect(200);
        expect(Object.fromEntries(res.body.members.map((m: { id: string; role: string }) => [m.id, m.role]))).toEqual({ [owner.user.id]: 'member', [heir.user.id]: 'owner' });
      } finally {
        spy.mockRestore();
      }
      expect(await roles(heir.token)).toEqual({ [heir.user.id]: 'owner' });
    });

    it('a member cannot (403 OWNER_ONLY); the roles are unchanged', async () => {
      const { owner, member: other } = await familyWithMember(t);
      const res = await t.http().post('/api/v1/families/me/owner').set(bearer(other.token)).send({ user_id: other.user.id, password: other.password }).expect(403);
      expect(res.body.details.code).toBe('OWNER_ONLY');
      expect(await roles(owner.token)).toEqual({ [owner.user.id]: 'owner', [other.user.id]: 'member' });
    });

    it("another family's member and an unknown id answer the same 404; the owner's own id 422 naming user_id; nothing changes", async () => {
      const { owner, member: other } = await familyWithMember(t);
      const stranger = await registerFamily(t);
      const before = await syncVersion(owner.family.id);
      for (const userId of [stranger.user.id, randomUUID()]) {
        const res = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: userId, password: owner.password }).expect(404);
        expect(res.body.details.code).toBe('NOT_FOUND');
      }
      for (const userId of [owner.user.id, owner.user.id.toUpperCase()]) {
        const res = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: userId, password: owner.password }).expect(422);
        expect(res.body.details.fields).toEqual([expect.objectContaining({ field: 'user_id' })]);
      }
      expect(await syncVersion(owner.family.id)).toBe(before);
      expect(await roles(owner.token)).toEqual({ [owner.user.id]: 'owner', [other.user.id]: 'member' });
      expect(await t.db.query('SELECT role FROM users WHERE id = $1', [stranger.user.id])).toEqual([{ role: 'owner' }]);
    });

    it.each([
      ['no user_id', { password: 'some password' }, 'user_id'],
      ['a user_id that is not a UUID', { user_id: 'not-a-uuid', password: 'some password' }, 'user_id'],
      ['a number', { user_id: 42, password: 'some password' }, 'user_id'],
      ['an unknown field', { user_id: randomUUID(), password: 'some password', role: 'owner' }, 'role'],
      ['no password', { user_id: randomUUID() }, 'password'],
      ['an empty password', { user_id: randomUUID(), password: '' }, 'password'],
    ])('%s: 400 naming the field', async (_, body, field) => {
      const { owner } = await familyWithMember(t);
      const res = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send(body).expect(400);
      expect(res.body.details.code).toBe('VALIDATION_FAILED');
      expect(res.body.details.fields.map((f: { field: string }) => f.field)).toEqual([field]);
    });

    it('a wrong password answers 401 INVALID_CREDENTIALS and changes nothing; the owner stays signed in', async () => {
      const { owner, member: heir } = await familyWithMember(t);
      const before = await syncVersion(owner.family.id);
      const res = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: heir.user.id, password: 'not the password' }).expect(401);
      expect(res.body.details.code).toBe('INVALID_CREDENTIALS');
      expect(await syncVersion(owner.family.id)).toBe(before);
      expect(await roles(owner.token)).toEqual({ [owner.user.id]: 'owner', [heir.user.id]: 'member' });
    });

    it('a password changed while the hand-over was being confirmed: 401, nothing changes (the change ended this request\'s sign-in)', async () => {
      const { owner, member: heir } = await familyWithMember(t);
      const versions = t.app.get(FamilyVersionService);
      const write = versions.write.bind(versions);
      // After the password was checked, before the hand-over's write: the owner's password changes on another phone.
      const spy = jest.spyOn(versions, 'write').mockImplementationOnce(async (work, options) => {
        await t.http().post('/api/v1/auth/change-password').set(bearer(owner.token)).send({ current_password: owner.password, new_password: 'a newer password' }).expect(200);
        return write(work, options);
      });
      try {
        const res = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: heir.user.id, password: owner.password }).expect(401);
        // The change ended every sign-in of the owner, this request's too: the write re-checks it under
        // the lock and refuses as the next request would (UNAUTHENTICATED: sign in again). The check of
        // the password hash under the lock (INVALID_CREDENTIALS) remains for tokens without a sign-in id.
        expect(res.body.details.code).toBe('UNAUTHENTICATED');
      } finally {
        spy.mockRestore();
      }
      expect(await roles(heir.token)).toEqual({ [owner.user.id]: 'owner', [heir.user.id]: 'member' });
    });

    it('owner-only requests of the former owner still in flight when the ownership is handed on write nothing (409 MEMBERSHIP_CHANGED)', async () => {
      const { owner, member: heir } = await familyWithMember(t);
      const third = await joinFamily(t, owner.inviteCode);
      // The guard lets both requests in as the owner's; they then queue for the family lock, which
      // a hand-over (done here in SQL, as POST /families/me/owner does it) holds and commits.
      const handOver = t.db.createQueryRunner();
      await handOver.startTransaction();
      const inFlight: Array<Promise<{ status: number; body: { details?: { code?: string } } }>> = [];
      try {
        await handOver.query('SELECT 1 FROM families WHERE id = $1 FOR UPDATE', [owner.family.id]);
        inFlight.push(
          t.http().post('/api/v1/families/me/invite-code').set(bearer(owner.token)).then((r) => r),
          t.http().delete(`/api/v1/families/me/members/${third.user.id}`).set(bearer(owner.token)).then((r) => r),
          t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: third.user.id, password: owner.password }).then((r) => r),
        );
        // This app's connections only: the other test files share the database.
        const waiting = async () =>
          (await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [connectionName('api')]))[0].n;
        await until(async () => (await waiting()) >= 3, 'the three requests to wait for the family lock');
        await handOver.query(`UPDATE users SET role = CASE WHEN id = $1 THEN 'owner' ELSE 'member' END WHERE family_id = $2`, [heir.user.id, owner.family.id]);
        await handOver.commitTransaction();
      } finally {
        if (handOver.isTransactionActive) await handOver.rollbackTransaction();
        await handOver.release();
      }
      for (const res of await Promise.all(inFlight)) {
        expect(res.status).toBe(409);
        expect(res.body.details?.code).toBe('MEMBERSHIP_CHANGED');
      }
      expect(await t.db.query('SELECT invite_code FROM families WHERE id = $1', [owner.family.id])).toEqual([{ invite_code: owner.inviteCode }]);
      expect(await roles(heir.token)).toEqual({ [owner.user.id]: 'member', [heir.user.id]: 'owner', [third.user.id]: 'member' });
    });
  });

  describe('POST /families (a user in no family founds one)', () => {
    /** A member removed by the owner, signed in again (the removal ended their sign-ins): in no family. */
    async function removedMember() {
      const { owner, member } = await familyWithMember(t);
      await t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);
      const signIn = await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200);
      const token: string = signIn.body.access_token;
      await t.http().get('/api/v1/families/me').set(bearer(token)).expect(403);
      return { owner, member, token };
    }
    const foundedBy = async (userId: string): Promise<Array<{ id: string }>> => t.db.query('SELECT id::text AS id FROM families WHERE created_by = $1', [userId]);

    it('a removed member creates a family as its owner (201, the body of GET /families/me); another user joins it with its new invite code', async () => {
      const { owner, member, token } = await removedMember();
      const patient = { patient_name: 'Amira', patient_birth_date: 1420070400000, patient_weight_kg: 24.5, patient_blood_group: '', notes: 'new start' };
      const res = await t.http().post('/api/v1/families').set(bearer(token)).send(patient).expect(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        invite_code: expect.stringMatching(/^[A-HJKMNP-Z2-9]{6}$/),
        patient_name: 'Amira',
        patient_birth_date: 1420070400000,
        patient_weight_kg: 24.5,
        patient_blood_group: null, // '' is "not set", as on PATCH
        patient_diagnosis: null,
        notes: 'new start',
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
        members: [{ id: member.user.id, email: member.email, name: 'Test Parent', role: 'owner' }],
      });
      expect(res.body.id).not.toBe(owner.family.id);
      expect(res.body.invite_code).not.toBe(member.inviteCode);
      const read = await t.http().get('/api/v1/families/me').set(bearer(token)).expect(200);
      expect(read.body).toEqual(res.body);
      const me = await t.http().get('/api/v1/auth/me').set(bearer(token)).expect(200);
      expect(me.body.user).toMatchObject({ family_id: res.body.id, role: 'owner' });
      // The family's first version is its creation: the founder joined at it, and recorded as its creator.
      const [row] = await t.db.query('SELECT f.sync_version, f.server_version, f.server_created_version, f.created_by, f.updated_by, u.family_joined_version FROM families f JOIN users u ON u.family_id = f.id WHERE f.id = $1', [res.body.id]);
      expect(row.sync_version).toBe(row.family_joined_version);
      expect([row.server_version, row.server_created_version]).toEqual([row.sync_version, row.sync_version]);
      expect([row.created_by, row.updated_by]).toEqual([member.user.id, member.user.id]);
      // The code works: a new caregiver registers with it, and an existing user joins by it.
      const second = await joinFamily(t, res.body.invite_code);
      expect(second.family.id).toBe(res.body.id);
      const other = await registerFamily(t);
      await t.http().post('/api/v1/auth/join-family').set(bearer(other.token)).send({ invite_code: res.body.invite_code.toLowerCase() }).expect(200);
      const members = await t.http().get('/api/v1/families/me').set(bearer(token)).expect(200);
      expect(members.body.members.map((m: { id: string; role: string }) => [m.id, m.role])).toEqual([
        [member.user.id, 'owner'],
        [second.user.id, 'member'],
        [other.user.id, 'member'],
      ]);
      // As owner, they can do what an owner does.
      await t.http().post('/api/v1/families/me/invite-code').set(bearer(token)).expect(200);
    });

    it('takes no body at all, or an empty one: a family with no patient fields set', async () => {
      const { token } = await removedMember();
      const res = await t.http().post('/api/v1/families').set(bearer(token)).expect(201);
      expect(res.body).toMatchObject({ patient_name: null, patient_birth_date: null, patient_weight_kg: null, patient_blood_group: null, patient_diagnosis: null, notes: null });
      const { token: other } = await removedMember();
      await t.http().post('/api/v1/families').set(bearer(other)).send({}).expect(201);
    });

    it('validates the patient fields exactly like PATCH /families/me (400 naming them); nothing is created', async () => {
      const { member, token } = await removedMember();
      const owner = await registerFamily(t);
      for (const body of [{ patient_weight_kg: -1 }, { patient_blood_group: 'Z+' }, { patient_name: 'x'.repeat(201) }, { invite_code: 'ABCDEF' }]) {
        const created = await t.http().post('/api/v1/families').set(bearer(token)).send(body);
        const patched = await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send(body);
        expect({ body, status: created.status, details: created.body.details }).toEqual({ body, status: patched.status, details: patched.body.details });
        expect(created.status).toBe(400);
      }
      expect(await foundedBy(member.user.id)).toEqual([]);
      await t.http().get('/api/v1/families/me').set(bearer(token)).expect(403);
    });

    it('a caller in a family gets 409 ALREADY_IN_FAMILY, owner or member; nothing is created', async () => {
      const { owner, member } = await familyWithMember(t);
      for (const caller of [owner, member]) {
        const res = await t.http().post('/api/v1/families').set(bearer(caller.token)).send({ patient_name: 'x' }).expect(409);
        expect(res.body.details).toEqual({ code: 'ALREADY_IN_FAMILY' });
        const me = await t.http().get('/api/v1/auth/me').set(bearer(caller.token)).expect(200);
        expect(me.body.user.family_id).toBe(owner.family.id);
      }
      expect(await foundedBy(member.user.id)).toEqual([]);
      expect(await foundedBy(owner.user.id)).toEqual([{ id: owner.family.id }]);
    });

    it('requires a token (401), not a family', async () => {
      await t.http().post('/api/v1/families').send({}).expect(401);
    });

    it('two POSTs at once by one user: one 201, one 409 ALREADY_IN_FAMILY, exactly one family created', async () => {
      const { member, token } = await removedMember();
      const answers = await Promise.all([1, 2, 3].map(() => t.http().post('/api/v1/families').set(bearer(token)).send({ patient_name: 'P' })));
      expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409]);
      for (const lost of answers.filter((r) => r.status === 409)) expect(lost.body.details.code).toBe('ALREADY_IN_FAMILY');
      const won = answers.find((r) => r.status === 201)!;
      expect(await foundedBy(member.user.id)).toEqual([{ id: won.body.id }]);
      const [user] = await t.db.query('SELECT family_id::text AS family_id, role FROM users WHERE id = $1', [member.user.id]);
      expect(user).toEqual({ family_id: won.body.id, role: 'owner' });
    });

    it('a POST racing a join-family by the same user: one wins and the other answers 409 changing nothing, or the join comes after the founding', async () => {
      for (let round = 0; round < 4; round++) {
        const { member, token } = await removedMember();
        const target = await registerFamily(t);
        const [created, joined] = await Promise.all([
          t.http().post('/api/v1/families').set(bearer(token)).send({}),
          t.http().post('/api/v1/auth/join-family').set(bearer(token)).send({ invite_code: target.inviteCode }),
        ]);
        const [user] = await t.db.query('SELECT family_id::text AS family_id, role FROM users WHERE id = $1', [member.user.id]);
        const founded = await foundedBy(member.user.id);
        if (created.status === 201 && joined.status === 200) {
          // Not a race lost: the join read the user once the founding had committed, so it moved the
          // founder of a family of one, as any join does, and settled the family left (no members, no code).
          expect(user).toEqual({ family_id: target.family.id, role: 'member' });
          expect(founded).toEqual([{ id: created.body.id }]);
          const [left] = await t.db.query('SELECT invite_code FROM families WHERE id = $1', [created.body.id]);
          expect(left).toEqual({ invite_code: null });
        } else if (created.status === 201) {
          expect(joined.status).toBe(409);
          expect(['ALREADY_IN_FAMILY', 'MEMBERSHIP_CHANGED']).toContain(joined.body.details.code);
          expect(user).toEqual({ family_id: created.body.id, role: 'owner' });
          expect(founded).toEqual([{ id: created.body.id }]);
        } else {
          expect(joined.status).toBe(200);
          expect(created.status).toBe(409);
          expect(['ALREADY_IN_FAMILY', 'MEMBERSHIP_CHANGED']).toContain(created.body.details.code);
          expect(user).toEqual({ family_id: target.family.id, role: 'member' });
          expect(founded).toEqual([]);
        }
      }
    });

    it('a founding that committed answers 201 even when the founder joins another family (another phone) before the answer is written (found by review: 409, "nothing was created")', async () => {
      const { member, token } = await removedMember();
      const target = await registerFamily(t);
      const memberships = t.app.get(FamilyMembershipService);
      const createWithOwner = memberships.createWithOwner.bind(memberships);
      let joined: { status: number } | undefined;
      // Right after the founding's commit, before its answer: the user's other phone joins another family.
      const spy = jest.spyOn(memberships, 'createWithOwner').mockImplementationOnce(async (...args) => {
        const founded = await createWithOwner(...args);
        joined = await t.http().post('/api/v1/auth/join-family').set(bearer(token)).send({ invite_code: target.inviteCode });
        return founded;
      });
      try {
        const created = await t.http().post('/api/v1/families').set(bearer(token)).send({ patient_name: 'Founded' });
        expect(joined?.status).toBe(200);
        // The family was made: the answer says so, with the family as its founding left it.
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({ patient_name: 'Founded', members: [{ id: member.user.id, role: 'owner' }] });
        expect(await foundedBy(member.user.id)).toEqual([{ id: created.body.id }]);
      } finally {
        spy.mockRestore();
      }
      // The join moved them on and settled the family left: no members, no code.
      const [user] = await t.db.query('SELECT family_id::text AS family_id, role FROM users WHERE id = $1', [member.user.id]);
      expect(user).toEqual({ family_id: target.family.id, role: 'member' });
    });

    it('a founding under way when the password is changed on another phone (this one was lost) creates nothing and answers 401, as a push does', async () => {
      const { member, token } = await removedMember();
      const otherPhone = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body;
      const memberships = t.app.get(FamilyMembershipService);
      const createWithOwner = memberships.createWithOwner.bind(memberships);
      // The lost phone's POST has passed the guards; before its transaction, the password is changed on the other phone.
      const spy = jest.spyOn(memberships, 'createWithOwner').mockImplementationOnce(async (...args) => {
        await t.http().post('/api/v1/auth/change-password').set(bearer(otherPhone.access_token)).send({ current_password: member.password, new_password: 'a brand new secret' }).expect(200);
        return createWithOwner(...args);
      });
      try {
        const res = await t.http().post('/api/v1/families').set(bearer(token)).send({ patient_name: 'Founded' });
        expect(res.status).toBe(401);
        expect(res.body.details.code).toBe('UNAUTHENTICATED');
      } finally {
        spy.mockRestore();
      }
      expect(await foundedBy(member.user.id)).toEqual([]);
      const [user] = await t.db.query('SELECT family_id FROM users WHERE id = $1', [member.user.id]);
      expect(user).toEqual({ family_id: null });
    });

    it('the new family is taken above the version the member was removed at, whatever the clocks did: a phone holding the old family pulls a replacement', async () => {
      const { owner, member } = await familyWithMember(t);
      // The family being left ran ahead of the clock; the member's phone pulled it there (cursor `ahead`).
      const ahead = Date.now() + 10 * 24 * 3600 * 1000;
      await t.db.query('UPDATE families SET sync_version = $1 WHERE id = $2', [ahead, owner.family.id]);
      const old = await pull(t, { token: member.token, familyId: owner.family.id }, 0).expect(200);
      expect(old.body.timestamp).toBe(ahead);
      await t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);
      const token = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
      const created = await t.http().post('/api/v1/families').set(bearer(token)).send({ patient_name: 'New' }).expect(201);
      const familyId: string = created.body.id;
      const [row] = await t.db.query('SELECT f.sync_version, u.family_joined_version FROM families f JOIN users u ON u.family_id = f.id WHERE f.id = $1', [familyId]);
      expect(Number(row.family_joined_version)).toBeGreaterThan(ahead);
      expect(row.sync_version).toBe(row.family_joined_version);
      // The founder's new family gets a record, then the same fast clock writes to it later, past
      // the phone's cursor: the phone's pull (no X-Device-Id) is still a replacement of the new family.
      const history = randomUUID();
      await push(t, { token, familyId }, 0, changesOf('reminders', { created: [{ id: history, title: 'new family', remind_at: 1, frequency: 'once', is_completed: false }] })).expect(200);
      await t.db.query('UPDATE families SET sync_version = $1 WHERE id = $2', [ahead + 60_000, familyId]);
      const res = await pull(t, { token, familyId }, ahead).expect(200);
      expect(res.body.experimentalStrategy).toBe('replacement');
      expect(res.body.changes.reminders.created.map((r: { id: string }) => r.id)).toEqual([history]);
      expect(res.body.changes.families.created.map((r: { id: string }) => r.id)).toEqual([familyId]);
    });
  });
});
