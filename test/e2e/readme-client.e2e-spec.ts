import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Database } from '@nozbe/watermelondb';
import syncModule from '@nozbe/watermelondb/sync/index.js';
import randomIdModule from '@nozbe/watermelondb/utils/common/randomId/index.js';
import { useTestApp } from '../setup/test-app.js';
import { Device, syncProblems } from '../sync-client/device.js';
import { register, registerFamily, type Member } from '../sync-client/family.js';
import { TABLES } from '../sync-client/schema.js';

/**
 * README.md, "Connecting a WatermelonDB app" and "Files": what a mobile developer copies, run as
 * written against the real app, so that the README cannot drift from the server.
 *
 * The fenced blocks under "### Record ids: UUIDs" and "### synchronize()" are read from README.md
 * and evaluated, once per phone (one evaluation = one app's module), with only what must differ in
 * Node replaced (readmeApp):
 * - each `import { a, b as c } from 'm'` becomes a look-up of `m` in MODULES: the same WatermelonDB
 *   modules (CommonJS, which this ESM test cannot import by bare specifier from evaluated text),
 *   and `uuid` (not a dependency here) as `crypto.randomUUID`, which the README names as the
 *   alternative; an import of anything else fails the test;
 * - `export` is dropped;
 * - `const API = '…'` takes the test app's base URL;
 * - getAccessToken() and getDeviceId(), which the README leaves to the app, are the member's
 *   token and a UUID made once per phone.
 * The database the snippet's sync(database) gets is the harness's (test/sync-client/device.ts:
 * LokiJS in memory where a phone has SQLite, the app's schema and migrations), whose helpers
 * create and edit records as the app's models would. Every request of a sync is the snippet's own.
 *
 * The Files flow is prose: its test follows its steps, taking the literals a developer copies
 * (the multipart field, the answer's keys, the columns set from it) from the README's text.
 */
const README = readFileSync('README.md', 'utf8');

/** The first fenced block of `lang` in the section under `heading` (before the next heading). */
function fencedBlock(heading: string, lang: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "${heading}" heading`);
  const fence = '```';
  const open = README.indexOf(`\n${fence}${lang}\n`, start);
  const nextHeading = README.slice(start + heading.length + 2).search(/\n#{1,3} /);
  if (open < 0 || (nextHeading >= 0 && open > start + heading.length + 2 + nextHeading)) {
    throw new Error(`README.md: no ${fence}${lang} block under "${heading}"`);
  }
  const from = open + fence.length + lang.length + 2;
  return README.slice(from, README.indexOf(`\n${fence}\n`, from));
}

/** What the snippets' imports resolve to (CommonJS seen from ESM: the default import is module.exports, as device.ts reads it). */
const MODULES: Record<string, unknown> = {
  '@nozbe/watermelondb/sync': syncModule,
  '@nozbe/watermelondb/utils/common/randomId': randomIdModule,
  uuid: { v4: () => randomUUID() },
};

/** What the README's synchronize() block defines, as an app would import it from its module. */
interface ReadmeApp {
  sync(database: Database): Promise<void>;
  call(path: string, init?: RequestInit): Promise<Response>;
  readonly lastPulledVersion: number;
}

/** An error the snippet's call() throws. */
interface ReadmeHttpError extends Error {
  status: number;
  body: { statusCode: number; message: string; details?: Record<string, unknown> } | null;
}

/** The block's source with its imports turned into look-ups in MODULES and `export` dropped. */
function asFunctionBody(block: string): string {
  const imports = /^import \{([^}]*)\} from '([^']+)'.*$/gm;
  const body = block.replace(imports, (_, names: string, specifier: string) => {
    if (!(specifier in MODULES)) throw new Error(`README.md imports ${specifier}: add it to MODULES in this test`);
    return `const {${names.replace(/\b(\w+) as (\w+)\b/g, '$1: $2')}} = __modules[${JSON.stringify(specifier)}]`;
  });
  if (/^\s*import\b/m.test(body)) throw new Error(`README.md: an import this test does not read: ${/^\s*import\b.*$/m.exec(body)![0]}`);
  return body.replace(/^export /gm, '');
}

const UUID_BLOCK = fencedBlock('### Record ids: UUIDs', 'js');
const SYNC_BLOCK = fencedBlock('### synchronize()', 'js');

/** Runs the README's UUID set-up (after the harness's own, so the ids the phones make are the README's). */
function setReadmeIdGenerator(): void {
  new Function('__modules', `"use strict";\n${asFunctionBody(UUID_BLOCK)}`)(MODULES);
}

/** One app: the README's synchronize() block, evaluated with this phone's token and device id. */
function readmeApp(baseUrl: string, getAccessToken: () => string, getDeviceId: () => string): ReadmeApp {
  const apiLine = /^const API = '[^']*'$/m;
  if (!apiLine.test(SYNC_BLOCK)) throw new Error("README.md: the synchronize() block has no `const API = '…'` line");
  const body = asFunctionBody(SYNC_BLOCK).replace(apiLine, 'const API = __baseUrl');
  const make = new Function(
    '__modules',
    '__baseUrl',
    'getAccessToken',
    'getDeviceId',
    `"use strict";\n${body}\nreturn { sync, call, get lastPulledVersion() { return lastPulledVersion } };`,
  );
  return make(MODULES, baseUrl, async () => getAccessToken(), async () => getDeviceId()) as ReadmeApp;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const pdf = () => Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(500), Buffer.from('\n%%EOF\n')]);

describe('README: the WatermelonDB client code, run as written', () => {
  const t = useTestApp();
  beforeAll(() => setReadmeIdGenerator());
  afterAll(() => {
    // No sync anomaly logged by the client (a record sent as created to the phone that made it, a timestamp going back…).
    expect(syncProblems()).toEqual([]);
  });

  /** A phone of `member` running the README's code; `state.token` is what its getAccessToken() answers (set it to make the token expire). */
  function phone(member: Member, options: { familyId?: string; deviceId?: string } = {}) {
    const deviceId = options.deviceId ?? randomUUID();
    const device = new Device({ baseUrl: t.baseUrl, token: member.token, deviceId, familyId: options.familyId ?? member.familyId });
    const state = { token: member.token };
    const app = readmeApp(t.baseUrl, () => state.token, () => deviceId);
    return { device, app, state, sync: () => app.sync(device.database) };
  }
  const familyVersion = async (familyId: string) =>
    Number((await t.db.query('SELECT sync_version FROM families WHERE id = $1', [familyId]))[0].sync_version);
  /** The error a promise rejects with (the snippet's call() throws; the README's table reads `status` and `body.details`). */
  const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as ReadmeHttpError);

  it('synchronize(): create → sync → another phone syncs → edit → sync, with UUID ids, and lastPulledVersion at the family\'s version', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const a = phone(owner);
    const b = phone(member);
    await a.sync();
    expect(a.app.lastPulledVersion).toBe(await familyVersion(owner.familyId));

    const id = await a.device.create('transfusions', { date: 1_764_000_000_000, volume_ml: 300, indicators_before: JSON.stringify({ hb: 7.1 }), hospital: 'City' });
    expect(id).toMatch(UUID); // the README's generator, not WatermelonDB's 16-character default
    await a.sync();
    await b.sync();
    expect(await b.device.find('transfusions', id)).toMatchObject({ volume_ml: 300, hospital: 'City', family_id: owner.familyId });

    await b.device.update('transfusions', id, { volume_ml: 280, notes: 'slow drip' });
    await b.sync();
    // A pulls its own record back with the edit: as updated (X-Device-Id), or the client would log "[Sync] … already exists locally".
    await a.sync();
    expect(await a.device.find('transfusions', id)).toMatchObject({ volume_ml: 280, notes: 'slow drip', hospital: 'City' });
    expect(a.app.lastPulledVersion).toBe(await familyVersion(owner.familyId));
    expect(b.app.lastPulledVersion).toBeLessThan(a.app.lastPulledVersion); // B's push came after B's pull
    expect(await a.device.hasUnsyncedChanges()).toBe(false);
    expect(await b.device.hasUnsyncedChanges()).toBe(false);
    expect(syncProblems()).toEqual([]);
  });

  it('errors reach the app as the README\'s table reads them: error.status and error.body.details', async () => {
    const [owner] = await registerFamily(t, 0);
    const other = await register(t);

    // 401: the token expired (here: not a token at all); nothing was applied, the record stays unsynced.
    const a = phone(owner);
    await a.sync();
    const id = await a.device.create('blood_tests', { date: 1_764_000_000_000 });
    a.state.token = 'expired';
    const unauthenticated = await rejection(a.sync());
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.body?.details?.code).toBe('UNAUTHENTICATED');
    a.state.token = owner.token;
    await a.sync();
    expect(await a.device.hasUnsyncedChanges()).toBe(false);

    // 422: an invalid record, named by table, id and field.
    await a.device.update('blood_tests', id, { laboratory: 'x'.repeat(301) });
    const invalid = await rejection(a.sync());
    expect(invalid.status).toBe(422);
    expect(invalid.body?.details).toMatchObject({ code: 'VALIDATION_FAILED', table: 'blood_tests', id, field: 'laboratory' });
    await a.device.update('blood_tests', id, { laboratory: 'Lab A' });
    await a.sync();

    // 403 FORBIDDEN_RECORD: a new record naming another family (details.ids per table).
    const stray = phone(owner, { familyId: other.familyId });
    await stray.sync();
    const strayId = await stray.device.create('reminders', { title: 'Iron', remind_at: 1, frequency: 'once', is_completed: false });
    const forbidden = await rejection(stray.sync());
    expect(forbidden.status).toBe(403);
    expect(forbidden.body?.details).toEqual({ code: 'FORBIDDEN_RECORD', ids: { reminders: [strayId] } });

    // 422 naming X-Device-Id: an id with a space.
    const spaced = phone(owner, { deviceId: 'my phone' });
    const badDevice = await rejection(spaced.sync());
    expect(badDevice.status).toBe(422);
    expect(badDevice.body?.details).toEqual({ code: 'VALIDATION_FAILED', field: 'X-Device-Id' });
    // An empty one is no header (README: "an empty value counts as no header"), not a 422.
    await phone(owner, { deviceId: '' }).sync();

    // 403 NO_FAMILY: the user left the family on another phone.
    await t.http().post('/api/v1/families/me/leave').set('Authorization', `Bearer ${owner.token}`).expect(204);
    const noFamily = await rejection(a.sync());
    expect(noFamily.status).toBe(403);
    expect(noFamily.body?.details?.code).toBe('NO_FAMILY');
  });

  describe('Files: the flow a mobile app follows', () => {
    const section = README.slice(README.indexOf('\n### The flow a mobile app follows\n'), README.indexOf('\n### Downloads\n'));
    /** A literal the README's prose gives, found by `pattern`'s first group. */
    const literal = (pattern: RegExp) => {
      const found = pattern.exec(section);
      if (!found) throw new Error(`README.md, Files: no match for ${pattern}`);
      return found[1];
    };
    const FILE_FIELD = literal(/multipart, field `(\w+)`/);
    const ANSWER_KEYS = literal(/The answer is `\{ ([\w, ]+) \}`/).split(', ');
    const SET_FROM_ANSWER = /Set the record's `(\w+)`, `(\w+)` and `(\w+)` from that answer/.exec(section)?.slice(1) ?? [];

    /** Step 2: the upload as the README says to send it (multipart, only Authorization set, the file part with a name). */
    const upload = (token: string, content: Buffer, fields: Record<string, string> = {}) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append(FILE_FIELD, new Blob([content], { type: 'application/pdf' }), 'lab result.pdf');
      return fetch(`${t.baseUrl}/api/v1/upload`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: form });
    };

    it('offline first: the document made offline syncs, its file is uploaded, the record points at it and is pushed, another phone downloads the file', async () => {
      const documentColumns = TABLES.find((table) => table.name === 'documents')!.columns.map((c) => c.name);
      expect(SET_FROM_ANSWER).toHaveLength(3);
      for (const column of SET_FROM_ANSWER) expect(documentColumns).toContain(column);
      const [owner, member] = await registerFamily(t, 1);
      const a = phone(owner);
      const b = phone(member);
      await a.sync();
      await b.sync();

      // 1. The record, made offline without its file; it syncs as it is.
      const id = await a.device.create('documents', { name: 'CBC March', category: 'lab_result', notes: 'fasting', file_url: null });
      await a.sync();

      // GET /api/v1/upload/limits answers what the README shows (its keys).
      const limitsExample = JSON.parse(fencedBlock('### Limits and types', 'json')) as Record<string, unknown>;
      const limits = await fetch(`${t.baseUrl}/api/v1/upload/limits`, { headers: { Authorization: `Bearer ${owner.token}` } });
      expect(limits.status).toBe(200);
      expect(Object.keys((await limits.json()) as object).sort()).toEqual(Object.keys(limitsExample).sort());

      // 2. Not through the snippet's call() (its Content-Type: application/json): the 400 the README names.
      const form = new FormData();
      form.append(FILE_FIELD, new Blob([pdf()], { type: 'application/pdf' }), 'scan.pdf');
      const throughCall = await rejection(a.app.call('/api/v1/upload', { method: 'POST', body: form }));
      expect(throughCall.status).toBe(400);
      // A PDF's bytes are not UTF-8, which is checked before the JSON is parsed.
      expect(throughCall.body).toMatchObject({ message: expect.stringMatching(/^Request body is not valid UTF-8/), details: { code: 'MALFORMED_REQUEST' } });
      // The upload as the README says: its answer has exactly the keys it lists.
      const content = pdf();
      const response = await upload(owner.token, content, { family_id: owner.familyId });
      expect(response.status).toBe(201);
      const answer = (await response.json()) as Record<string, unknown>;
      expect(Object.keys(answer).sort()).toEqual([...ANSWER_KEYS].sort());

      // 3. The record takes the answer's values, and syncs.
      const fromAnswer = Object.fromEntries(SET_FROM_ANSWER.map((column) => [column, answer[column]]));
      expect(fromAnswer).toEqual({ file_url: `/api/v1/files/${answer.id}`, mime_type: 'application/pdf', size_bytes: content.length });
      // A full URL in file_url is refused (422 naming it), nothing applied; the path itself goes through.
      await a.device.update('documents', id, { ...fromAnswer, file_url: `${t.baseUrl}${answer.file_url}` });
      const fullUrl = await rejection(a.sync());
      expect(fullUrl.status).toBe(422);
      expect(fullUrl.body?.details).toMatchObject({ code: 'VALIDATION_FAILED', table: 'documents', id, field: 'file_url' });
      await a.device.update('documents', id, fromAnswer);
      await a.sync();

      // 4. Another phone pulls the record and downloads GET <base URL><file_url> with its token.
      await b.sync();
      const pulled = await b.device.find('documents', id);
      expect(pulled).toMatchObject({ name: 'CBC March', category: 'lab_result', notes: 'fasting', family_id: owner.familyId, ...fromAnswer });
      const download = await fetch(`${t.baseUrl}${pulled!.file_url as string}`, { headers: { Authorization: `Bearer ${member.token}` } });
      expect(download.status).toBe(200);
      expect(Buffer.from(await download.arrayBuffer()).equals(content)).toBe(true);
    });

    it('one call when online: the fields (document_id, name, category, notes) before the file make the document, which reaches the calling phone too by pull', async () => {
      const [owner] = await registerFamily(t, 0);
      const a = phone(owner);
      await a.sync();
      const documentId = randomUUID();
      const fields = { document_id: documentId, name: 'Discharge letter', category: 'discharge_summary', notes: 'ward 3', family_id: owner.familyId };
      const response = await upload(owner.token, pdf(), fields);
      expect(response.status).toBe(201);
      const answer = (await response.json()) as { file_url: string; document: Record<string, unknown> };
      expect(answer.document).toMatchObject({ id: documentId, name: 'Discharge letter', category: 'discharge_summary', notes: 'ward 3', file_url: answer.file_url });
      await a.sync();
      expect(await a.device.find('documents', documentId)).toMatchObject({ name: 'Discharge letter', notes: 'ward 3', file_url: answer.file_url, family_id: owner.familyId });
      expect(await a.device.hasUnsyncedChanges()).toBe(false);
    });
  });
});
