/**
 * Randomized, seeded: the REST writes of synced rows — PATCH /families/me and uploads with
 * document fields (new documents, and new scans of existing ones by `document_id`) — made in the
 * middle of three phones' syncs over a lossy network (a pull answered but never received, a push
 * applied but never acknowledged, an app closed between pull and push, a REST write landing while a
 * pull's answer is applied or while a push is on the way), while one phone runs the previous app
 * schema (no documents.notes) and upgrades half-way (a migration sync). sync-convergence covers the
 * phones' own writes; here the server writes too. At the end every phone holds exactly what the
 * server holds, the client logged no sync problem, and no write — a phone's or a REST call's — was
 * lost on the way (test/sync-client/ledger.ts). `SYNC_SEEDS=1-200` for a wide run.
 */
import { randomBytes } from 'node:crypto';
import { useTestApp } from '../setup/test-app.js';
import { clientLog, Device, syncProblems } from '../sync-client/device.js';
import { registerFamily, type Member } from '../sync-client/family.js';
import { WriteLedger } from '../sync-client/ledger.js';
import { syncThroughLoss, type LossyNetwork } from '../sync-client/lossy-sync.js';
import { seeded, syncSeeds } from '../sync-client/seeds.js';
import { migrationsToV2, schemaV1, schemaV2 } from '../sync-client/schema.js';

const SEEDS = syncSeeds('1');
const ROUNDS = 8;
/** The round at whose start phone 0 (schema 1) upgrades to schema 2. */
const UPGRADE_ROUND = 5;

/** Of the syncs: 25 % lose an answer, 25 % meet a REST write (and a user's change) mid-sync, 5 % are cut between pull and push. */
const NETWORK: LossyNetwork = { lost: 0.25, busy: 0.25, closed: 0.05 };

const pdf = () => Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(50), Buffer.from('\n%%EOF\n')]);

describe('REST writes of synced rows amid lossy syncs, randomized (real WatermelonDB client)', () => {
  const t = useTestApp();

  it.each(SEEDS)('seed %i: every phone ends holding what the server holds, and no phone or REST write was lost', async (seed) => {
    const members = await registerFamily(t, 2);
    const familyId = members[0].familyId;
    const phones = members.map((m, i) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId, ...(i === 0 ? { schema: schemaV1 } : {}) }));
    const onSchema1 = new Set([0]);
    for (const phone of phones) await phone.sync();
    const logFrom = clientLog.length;
    const ledger = new WriteLedger();
    ledger.existing('families', await phones[0].all('families'));

    /** One REST write by a random member: a PATCH of a patient field, or an upload (a new document, or a new scan of a live one). */
    const restRandom = seeded(seed * 7 + 1);
    const restWrite = async (round: number) => {
      const member: Member = members[Math.floor(restRandom() * members.length)];
      if (restRandom() < 0.4) {
        const body = restRandom() < 0.5 ? { notes: `rest ${round}.${restRandom()}` } : { patient_name: `R${round}.${restRandom()}` };
        const res = await t.http().patch('/api/v1/families/me').set('Authorization', `Bearer ${member.token}`).send(body).expect(200);
        ledger.rest('families', familyId, { ...body, updated_at: res.body.updated_at }, { creation: false });
        return;
      }
      const live: Array<{ id: string }> = await t.db.query('SELECT id FROM documents WHERE family_id = $1 AND deleted_at IS NULL ORDER BY id', [familyId]);
      const existing = live.length && restRandom() < 0.7 ? live[Math.floor(restRandom() * live.length)].id : null;
      const req = t.http().post('/api/v1/upload').set('Authorization', `Bearer ${member.token}`);
      if (existing) req.field('document_id', existing);
      else req.field('name', `upload ${round}`).field('category', 'other');
      const notes = restRandom() < 0.5 ? `upload notes ${round}.${restRandom()}` : undefined;
      if (notes) req.field('notes', notes);
      const res = await req.attach('file', pdf(), 'scan.pdf');
      // 404: a phone deleted the document after it was picked (README: the upload stores nothing).
      expect([404, 201]).toContain(res.status);
      if (res.status !== 201) return;
      const { id, ...document } = res.body.document;
      if (!existing) ledger.rest('documents', id, { ...document, family_id: familyId }, { creation: true });
      else {
        const { file_url, mime_type, size_bytes, updated_at } = document;
        ledger.rest('documents', id, { file_url, mime_type, size_bytes, updated_at, ...(notes ? { notes } : {}) }, { creation: false });
      }
    };

    /** One random change on a phone: a document or a transfusion created, a document or the family row edited, a document deleted. */
    const change = async (phone: Device, i: number, round: number, random: () => number) => {
      const oldApp = onSchema1.has(i);
      const roll = random();
      if (roll < 0.2) {
        const id = await ledger.create(phone, i, 'documents', { name: `p${i} r${round}`, category: 'lab_result', ...(oldApp ? {} : { notes: `n${i}` }) });
        // The old app has no notes column: the server stores null.
        if (oldApp) ledger.rest('documents', id, { notes: null }, { creation: true });
      } else if (roll < 0.3) await ledger.create(phone, i, 'transfusions', { date: round, volume_ml: 100 + i });
      else if (roll < 0.75) {
        const table = random() < 0.6 ? 'documents' : 'families';
        const rows = await phone.all(table);
        const row = rows[Math.floor(random() * rows.length)];
        if (!row) return;
        const documentEdit = random() < 0.5 && !oldApp ? { notes: `p${i} e${round}` } : { name: `p${i} name${round}` };
        await ledger.update(phone, i, table, row.id, table === 'documents' ? documentEdit : random() < 0.5 ? { notes: `p${i} fam${round}` } : { patient_diagnosis: `d${i}-${round}` });
      } else {
        const rows = await phone.all('documents');
        const row = rows[Math.floor(random() * rows.length)];
        if (row) await ledger.remove(phone, i, 'documents', row.id);
      }
    };

    /** Syncs until it goes through (a 409, a lost answer or a closed app is retried); REST writes and user edits may land mid-sync. */
    const syncThrough = (i: number, round: number, random?: () => number) =>
      syncThroughLoss(phones[i], {
        random,
        network: NETWORK,
        meanwhile: async () => {
          await restWrite(round);
          if (random) await change(phones[i], i, round, random);
        },
      });

    await Promise.all(
      phones.map(async (_, i) => {
        const random = seeded(seed * 100 + i);
        for (let round = 1; round <= ROUNDS; round++) {
          if (onSchema1.has(i) && round === UPGRADE_ROUND) {
            phones[i] = await phones[i].upgrade(schemaV2, migrationsToV2);
            onSchema1.delete(i);
          }
          for (let n = 1 + Math.floor(random() * 3); n > 0; n--) await change(phones[i], i, round, random);
          if (random() < 0.5) await restWrite(round);
          await syncThrough(i, round, random);
        }
      }),
    );
    for (let pass = 0; pass < 2; pass++) for (const i of phones.keys()) await syncThrough(i, ROUNDS + 1);

    const fresh = new Device({ baseUrl: t.baseUrl, token: members[0].token, familyId });
    await fresh.sync();
    const server = await fresh.snapshot();
    for (const [i, phone] of phones.entries()) {
      expect({ phone: i, unsynced: await phone.hasUnsyncedChanges() }).toEqual({ phone: i, unsynced: false });
      expect(await phone.snapshot()).toEqual(server);
    }
    expect(ledger.lostEdits(server)).toEqual([]);
    expect(clientLog.slice(logFrom).filter((line) => syncProblems().includes(line))).toEqual([]);
  }, 120_000);
});
