/**
 * The admin CLI as operators run it: the built `node dist/cli.js` in its own process against the
 * run's test database (test/setup/admin-cli.ts): failures, sync:cleanup, the support commands, the
 * CLI beside a running app, migrations. `seed`: cli-seed.e2e-spec.ts.
 *
 * On a DATABASE_URL run (CI's PostgreSQL 15 pass) only the tests of SQL the CLI sends itself run
 * again: family:show's report, sync:cleanup, migrations, password resets. Those of arguments, output
 * and the terminal, and of commands that call the app's services and nothing else (user:create,
 * user:delete, family:set-owner: the HTTP tests run that SQL on both servers), run on the embedded
 * run only (test/setup/test-runs.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FamilyVersionService } from '../../src/common/versioning/family-version.service.js';
import { bearer, joinFamily, registerFamily as registerAccount, uniqueEmail } from '../factories/auth.factory.js';
import { clientLog, Device } from '../sync-client/device.js';
import { registerFamily } from '../sync-client/family.js';
import { cli, credentials, DB_DOWN, expectOneLineFailure, familyOf as familyIn, PRODUCTION, seededCounts, type Run, useCliDatabaseClient } from '../setup/admin-cli.js';
import { freePort, removeDir, scratchDir, startService, stopAll, waitForHealth, type Running } from '../setup/service-process.js';
import { useTestApp } from '../setup/test-app.js';
import { describeOnEmbeddedRun, itOnEmbeddedRun } from '../setup/test-runs.js';
import { holdNextCall, sessionsWaitingBehind, until } from '../setup/wait.js';

describe('admin CLI (node dist/cli.js)', () => {
  const t = useTestApp();
  const db = useCliDatabaseClient();
  const familyOf = (email: string) => familyIn(db, email);
  const login = (email: string, password: string) => t.http().post('/api/v1/auth/login').send({ email, password });

  // The rules themselves are unit specs (src/cli/integer-option.spec.ts, seed/seed-options.spec.ts,
  // account-input.spec.ts, cli-error.spec.ts); here, one case of each way a command can fail, through
  // the process (each ~2 s of CPU): its exit code and its one line, and, for the checks of options,
  // that they come before any connection. Commander's refusals (an unknown command or option, with
  // its suggestion kept on the line; a missing argument), a command's own CliError and the app's
  // service error (DomainError) on a lookup; an option's value: sync:cleanup's --idle-days below.
  describeOnEmbeddedRun('failures exit non-zero with one line', () => {
    it.concurrent.each([
      [['sed'], /unknown command 'sed' \(Did you mean seed\?\)$/],
      [['seed', '--famlies', '2'], /unknown option '--famlies' \(Did you mean --families\?\)$/],
      [['family:show'], /missing required argument/],
      [['family:show', 'QQQQQQ'], /No family with invite code QQQQQQ/],
      [['user:reset-password', '--email', 'nobody@nowhere.example', '--password', 'long enough'], /No user with email nobody@nowhere.example/],
      // Its own lookup, before reading the member's family (found by mutation testing: no test named an unknown email).
      [['family:set-owner', '--email', 'nobody@nowhere.example'], /^error: No user with email nobody@nowhere.example$/],
    ])('%j', async (args, message) => {
      const run = await cli(args);
      expectOneLineFailure(run, message);
      // README, Admin CLI: every failure exits 1 (found by mutation testing: "not 0" let a service
      // error's exit code drift to 2 unnoticed).
      expect(run.code).toBe(1);
    });

    it('no command: the help, exit non-zero', async () => {
      const run = await cli([]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/Commands:[\s\S]*seed[\s\S]*user:create[\s\S]*family:show[\s\S]*migration:run/);
    });

    it('database down (DATABASE_URL on a closed port)', async () => {
      const run = await cli(['seed', '--months', '1'], DB_DOWN);
      expectOneLineFailure(run, /cannot reach the database \(connection refused/);
      expect(run.code).toBe(1);
    });

    // Each would otherwise have connected (and, with --reset, deleted) before the bad option was noticed.
    it.concurrent.each([
      [['seed', '--email', 'not-an-email', '--reset'], {}, /--email: must be an email/],
      [['seed', '--reset'], PRODUCTION, /--reset .*refused when NODE_ENV=production/],
      // It names --password-stdin too: the way the README gives for a real server (a production run once said --password only).
      [['seed'], PRODUCTION, /--password or --password-stdin is required when NODE_ENV=production/],
      [['user:reset-password', '--email', 'a@b.example', '--password', 'long enough', '--password-stdin'], {}, /^error: --password and --password-stdin cannot be used together/],
      // Each command's own range, one past it (found by mutation testing: a command handing the parser
      // another bound failed no test; the parser's rule itself is src/cli/integer-option.spec.ts).
      [['seed', '--months', '85'], {}, /^error: --months must be an integer from 1 to 84 \(got "85"\)$/],
      [['seed', '--families', '0'], {}, /^error: --families must be an integer from 1 to 100000 \(got "0"\)$/],
      [['sync:cleanup', '--idle-days', '36501'], {}, /^error: --idle-days must be an integer from 1 to 36500 \(got "36501"\)$/],
      [['files:cleanup', '--retention-days', '36501'], {}, /^error: --retention-days must be an integer from 0 to 36500 \(got "36501"\)$/],
      // Neither password option: asked for by name (found by mutation testing: a command not requiring it
      // was refused later, by the password-length rule, and no test noticed).
      [['user:create', '--email', 'a@b.example'], {}, /^error: required option '--password <password>' or '--password-stdin' not specified$/],
      [['user:reset-password', '--email', 'a@b.example'], {}, /^error: required option '--password <password>' or '--password-stdin' not specified$/],
      // Commander passes extra words on; the command refuses them (found by mutation testing: no test did).
      [['family:show', 'ABCDEF', 'extra'], {}, /^error: family:show takes exactly one argument: an invite code, an email or a family id$/],
      [['family:invite-code', 'ABCDEF', 'extra'], {}, /^error: family:invite-code takes exactly one argument: a family id, an invite code or an email$/],
    ])('a bad option is reported as such with the database down: %j', async (args, env, message) => {
      expectOneLineFailure(await cli(args, { ...DB_DOWN, ...env }), message);
    });

    it('a bad configuration value', async () => {
      expectOneLineFailure(await cli(['seed'], { EMBEDDED_PG_PORT: 'high' }), /invalid configuration: EMBEDDED_PG_PORT="high"/);
    });

    // Found by the operator review: the secret is read as the CLI's modules start, and Nest logged that
    // failure with its stack (ExceptionHandler) and exited on its own, past the one-line report.
    it('a JWT secret file in DATA_DIR that holds no secret (JWT_SECRET unset): one line, no stack', async () => {
      const ownDataDir = mkdtempSync(join(tmpdir(), 'hemoday-cli-secret-'));
      try {
        writeFileSync(join(ownDataDir, 'jwt-secret'), '');
        expectOneLineFailure(
          await cli(['family:show', 'ABCDEF'], { JWT_SECRET: undefined, DATA_DIR: ownDataDir }),
          /^error: The JWT secret file .*jwt-secret holds no secret/,
        );
      } finally {
        rmSync(ownDataDir, { recursive: true, force: true });
      }
    });

    it('--help needs no database', async () => {
      const run = await cli(['seed', '--help'], { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none' });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/--families <n>[\s\S]*--months <m>[\s\S]*--reset/);
    });
  });

  describe('sync:cleanup', () => {
    const cursorsOf = async (phone: Device) =>
      (await db.query<{ version: string }>('SELECT version FROM sync_cursors WHERE device_id = $1 ORDER BY version', [phone.deviceId])).rows.map((r) => Number(r.version));
    const age = (phone: Device, days: number) =>
      db.query(`UPDATE sync_cursors SET recorded_at = now() - make_interval(days => $2) WHERE device_id = $1`, [phone.deviceId, days]);

    it('trims installations idle past --idle-days to their newest cursor; such a phone, back, pulls incrementally and gets what it missed', async () => {
      const [a, b] = await registerFamily(t, 1);
      const phoneOf = (m: typeof a) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId });
      const [idle, busy] = [phoneOf(a), phoneOf(b)];
      for (let i = 0; i < 3; i++) {
        await idle.create('transfusions', { date: i, volume_ml: 250 + i });
        await idle.sync();
      }
      await busy.sync();
      await age(idle, 40);
      await age(busy, 40);
      await busy.create('reminders', { title: 'recent', remind_at: 1, frequency: 'daily', is_completed: false });
      await busy.sync(); // a new answer: busy is no longer idle
      const [idleBefore, busyBefore] = [await cursorsOf(idle), await cursorsOf(busy)];
      expect(idleBefore.length).toBeGreaterThan(2);

      const dry = await cli(['sync:cleanup', '--dry-run', '--json', '--idle-days', '30']);
      expect(dry.code).toBe(0);
      expect(JSON.parse(dry.stdout)).toEqual({ dry_run: true, idle_days: 30, installations: 1, cursors: idleBefore.length - 1 });
      expect(await cursorsOf(idle)).toEqual(idleBefore);

      const run = await cli(['sync:cleanup']);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(`Trimmed ${idleBefore.length - 1} old cursor(s) of 1 installation(s) idle for over 30 day(s), keeping each one's newest per family`);
      expect({ idle: await cursorsOf(idle), busy: await cursorsOf(busy) }).toEqual({ idle: idleBefore.slice(-1), busy: busyBefore });

      const logFrom = clientLog.length;
      await idle.sync();
      expect(idle.lastPull?.experimentalStrategy).toBeUndefined();
      expect(await idle.snapshot()).toEqual(await busy.snapshot());
      expect(clientLog.slice(logFrom)).toEqual([]);
    });

    it("keeps the newest cursor of each family an idle installation's id answered (an id copied by another family): its phone, back, pulls incrementally and its offline deletion reaches the server", async () => {
      const [victim] = await registerFamily(t);
      const phone = new Device({ baseUrl: t.baseUrl, token: victim.token, familyId: victim.familyId });
      await phone.sync();
      const record = await phone.create('transfusions', { date: 1, volume_ml: 100 });
      await phone.sync();
      await phone.remove('transfusions', record); // deleted offline, not pushed yet
      // A member of another family pulls once with the phone's id, after the phone's last answer.
      const [outsider] = await registerFamily(t);
      await t.http().get('/api/v1/sync').set({ ...bearer(outsider.token), 'X-Device-Id': phone.deviceId! }).expect(200);
      await age(phone, 40);
      expect((await cli(['sync:cleanup'])).code).toBe(0);
      // Before, the trim kept the installation's newest cursor only, the other family's: the phone's next
      // pull was a replacement listing every record as `created`, which re-created the deleted record.
      await phone.sync();
      expect(phone.lastPull?.experimentalStrategy).toBeUndefined();
      const { rows } = await db.query<{ deleted_at: string | null }>('SELECT deleted_at FROM transfusions WHERE id = $1', [record]);
      expect({ onPhone: await phone.find('transfusions', record), deletedOnServer: rows[0].deleted_at !== null }).toEqual({ onPhone: null, deletedOnServer: true });
    });

    itOnEmbeddedRun('--idle-days out of range: a one-line message before connecting', async () => {
      expectOneLineFailure(await cli(['sync:cleanup', '--idle-days', '0'], DB_DOWN), /--idle-days must be an integer from 1 to 36500 \(got "0"\)/);
    });
  });

  describe('support commands', () => {
    itOnEmbeddedRun('user:create makes an owner who can log in; --invite-code joins that family as member', async () => {
      const owner = uniqueEmail('owner');
      const created = await cli(['user:create', '--email', `  ${owner.toUpperCase()} `, '--password', 'owner password', '--name', 'Leila']);
      expect(created.code).toBe(0);
      const code = /invite code ([A-Z2-9]{6})/.exec(created.stdout)![1];
      const session = await login(owner, 'owner password').expect(200);
      expect(session.body.user).toMatchObject({ role: 'owner', name: 'Leila' });

      const member = uniqueEmail('member');
      // --password-stdin with a Windows line ending (a file made there): the "\r\n" is not part of the password.
      const joined = await cli(['user:create', '--email', member, '--password-stdin', '--invite-code', code.toLowerCase()], {}, { input: 'member password\r\n' });
      expect(joined.code).toBe(0);
      expect(joined.stdout).toMatch(/as member of family/);
      expect((await login(member, 'member password').expect(200)).body.user.family_id).toBe(session.body.user.family_id);

      expectOneLineFailure(await cli(['user:create', '--email', owner, '--password', 'another one']), /already exists/);
    });

    it('user:reset-password changes the password (read from stdin) and signs the user out everywhere', async () => {
      const email = uniqueEmail('reset');
      await registerAccount(t, { email, password: 'old password' });
      const session = await login(email, 'old password').expect(200);

      // As support staff run it (--password would show the password to every local user in ps): piped in, as echo ends it.
      const run = await cli(['user:reset-password', '--email', email, '--password-stdin'], {}, { input: ' new password \n' });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Password changed/);
      await login(email, 'old password').expect(401);
      // Exactly what was piped, less the final newline: its spaces are part of it (login does not trim).
      await login(email, ' new password ').expect(200);
      await login(email, 'new password').expect(401);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: session.body.refresh_token }).expect(401);
    });

    itOnEmbeddedRun('user:delete deletes an account: sign-ins end, the family keeps its records; an owner with members is refused', async () => {
      const owner = uniqueEmail('delete-owner');
      await registerAccount(t, { email: owner, password: 'owner password' });
      const ownerSession = await login(owner, 'owner password').expect(200);
      const { invite_code: code } = (await t.http().get('/api/v1/families/me').set(bearer(ownerSession.body.access_token)).expect(200)).body;
      const member = uniqueEmail('delete-member');
      await registerAccount(t, { email: member, password: 'member password', invite_code: code });
      const session = await login(member, 'member password').expect(200);
      const familyId: string = session.body.user.family_id;

      // The service's message names the app's route; support is told the command (found by review).
      expectOneLineFailure(
        await cli(['user:delete', '--email', owner]),
        new RegExp(`^error: ${owner.replace(/[.+]/g, '\\$&')} owns a family with other members and cannot leave it: make another member the owner first \\(family:set-owner --email <member>\\), then delete$`),
      );
      await login(owner, 'owner password').expect(200);

      const run = await cli(['user:delete', '--email', member.toUpperCase()]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Deleted ${member} (user ${session.body.user.id}): every sign-in has ended; family ${familyId} keeps the records they entered.`);
      await login(member, 'member password').expect(401);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: session.body.refresh_token }).expect(401);
      const family = await t.http().get('/api/v1/families/me').set(bearer(ownerSession.body.access_token)).expect(200);
      expect(family.body.members.map((m: { email: string }) => m.email)).toEqual([owner]);
      expect(family.body.invite_code).not.toBe(code);
      expectOneLineFailure(await cli(['user:delete', '--email', member]), /No user with email/);
    });

    itOnEmbeddedRun('family:set-owner makes a member the owner (a family whose owner is gone); the former owner is a member', async () => {
      const owner = uniqueEmail('set-owner');
      await registerAccount(t, { email: owner, password: 'owner password' });
      const ownerSession = await login(owner, 'owner password').expect(200);
      const { invite_code: code } = (await t.http().get('/api/v1/families/me').set(bearer(ownerSession.body.access_token)).expect(200)).body;
      const member = uniqueEmail('set-owner-member');
      await registerAccount(t, { email: member, password: 'member password', invite_code: code });
      const memberSession = await login(member, 'member password').expect(200);

      const run = await cli(['family:set-owner', '--email', member]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`${member} is now the owner of family ${memberSession.body.user.family_id}`);
      const family = await t.http().get('/api/v1/families/me').set(bearer(memberSession.body.access_token)).expect(200);
      expect(Object.fromEntries(family.body.members.map((m: { email: string; role: string }) => [m.email, m.role]))).toEqual({ [owner]: 'member', [member]: 'owner' });
      // The new owner manages the family from their next request.
      await t.http().post('/api/v1/families/me/invite-code').set(bearer(memberSession.body.access_token)).expect(200);
      expect((await cli(['family:set-owner', '--email', member])).stdout).toMatch(/is the owner of family .* already/);
    });

    it('family:show by family id, and family:invite-code reopening a family nobody is in: its former owner joins back as owner', async () => {
      const email = uniqueEmail('reopen');
      await registerAccount(t, { email, password: 'owner password' });
      const session = await login(email, 'owner password').expect(200);
      const token: string = session.body.access_token;
      const familyId: string = session.body.user.family_id;
      await t.http().patch('/api/v1/families/me').set(bearer(token)).send({ patient_name: 'Amira' }).expect(200);
      await t.http().post('/api/v1/families/me/leave').set(bearer(token)).expect(204);

      // Support finds the family from the email, then by its id.
      expectOneLineFailure(await cli(['family:show', email]), new RegExp(`belongs to no family \\(families they founded: ${familyId}\\)`));
      const shown = await cli(['family:show', familyId.toUpperCase()]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/invite code:\s+\(none: the family has no members\)/);
      expect(shown.stdout).toMatch(/patient:\s+Amira/);

      const run = await cli(['family:invite-code', familyId]);
      expect(run.code).toBe(0);
      const code = /: ([A-HJKMNP-Z2-9]{6}) \(it had none/.exec(run.stdout)?.[1];
      expect(code).toBeDefined();
      const back = await t.http().post('/api/v1/auth/join-family').set(bearer(token)).send({ invite_code: code }).expect(200);
      expect(back.body.user).toMatchObject({ family_id: familyId, role: 'owner' });
      expect((await t.http().get('/api/v1/families/me').set(bearer(token)).expect(200)).body.patient_name).toBe('Amira');

      // A family with a code: the old one stops working.
      const again = await cli(['family:invite-code', code!]);
      expect(again.stdout).toContain(`(${code} no longer works)`);
      expectOneLineFailure(await cli(['family:invite-code', randomUUID()]), /No family with id/);
    });

    it("family:invite-code tells whether the family had members as its write found them: a last member leaving while it ran makes the code's holder the owner, and it says so", async () => {
      const email = uniqueEmail('last');
      await registerAccount(t, { email, password: 'owner password' });
      const session = await login(email, 'owner password').expect(200);
      const familyId: string = session.body.user.family_id;
      // The lone owner leaves, held inside the leave's write: detached under the family's lock, its code not yet removed.
      let leaving: { query: (sql: string) => Promise<Array<{ pid: number }>> } | undefined;
      const held = holdNextCall(t.app.get(FamilyVersionService), 'notifyMembershipChange', (manager: never) => ((leaving = manager), true));
      try {
        const left = t.http().post('/api/v1/families/me/leave').set(bearer(session.body.access_token)).then((res) => res);
        await held.reached;
        const [{ pid }] = await leaving!.query('SELECT pg_backend_pid() AS pid');
        // The command reads the family (its code still there), then waits for the lock to replace the code.
        const issuing = cli(['family:invite-code', familyId]);
        await until(async () => (await sessionsWaitingBehind(db, pid)) >= 1, 'family:invite-code waiting for the family lock', 30_000);
        held.release();
        expect((await left).status).toBe(204);
        const run = await issuing;
        expect([run.code, run.stderr]).toEqual([0, '']);
        expect(run.stdout).toMatch(/\(it had none: nobody is in it; whoever joins with this code becomes its owner\)/);
      } finally {
        held.restore();
      }
    });

    it('family:show by invite code or member email: family, patient, members, counts, sync_version', async () => {
      const email = uniqueEmail('show');
      const seeded = await cli(['seed', '--email', email, '--months', '1']);
      const { inviteCode } = credentials(seeded.stdout);
      const family = await familyOf(email);
      const n = await seededCounts(db, family.id);
      // Two uploaded files (rows only: the report reads the database), 3 MiB in all.
      for (const size of [1024 * 1024, 2 * 1024 * 1024]) {
        const id = randomUUID();
        await db.query(`INSERT INTO files (id, family_id, storage_key, mime_type, size_bytes, sha256) VALUES ($1, $2, $3, 'application/pdf', $4, repeat('0', 64))`, [
          id,
          family.id,
          `${family.id}/${id}`,
          size,
        ]);
      }

      const text = await cli(['family:show', inviteCode.toLowerCase()]);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`Family ${family.id}`);
      expect(text.stdout).toContain(`sync_version: ${family.sync_version}`);
      expect(text.stdout).toMatch(/patient:\s+Amira, born \d{4}-\d\d-\d\d, [\d.]+ kg, A\+, Beta-thalassemia major/);
      expect(text.stdout).toMatch(new RegExp(`owner\\s+${email.replace(/[.+]/g, '\\$&')} \\(Demo Parent\\)`));
      expect(text.stdout).toMatch(new RegExp(`blood_test_results\\s+${n.blood_test_results} / 0`));
      const total = Object.values(n).reduce((a, b) => a + b, 0); // seed deletes nothing
      expect(text.stdout).toContain(`    in all: ${total} of the 1000000 limit (SYNC_FAMILY_MAX_RECORDS)\n`);
      expect(text.stdout).toContain('files:        2, 3.0 MiB of the 10240.0 MiB limit (UPLOAD_FAMILY_MAX_BYTES)');

      const json = await cli(['family:show', email, '--json']);
      const report = JSON.parse(json.stdout);
      // Versions are numbers, times ISO 8601 (BIGINT milliseconds and timestamptz columns alike).
      const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(report.family).toMatchObject({
        id: family.id,
        invite_code: inviteCode,
        sync_version: Number(family.sync_version),
        created_at: iso,
        demo_seeded_at: iso,
        patient_birth_date: iso,
        patient_weight_kg: expect.any(Number),
      });
      expect(report.members).toEqual([expect.objectContaining({ email, role: 'owner', created_at: iso })]);
      expect(Object.fromEntries(report.counts.map((c: { table: string; live: number }) => [c.table, c.live]))).toEqual(n);
      expect(report.records).toEqual({ stored_records: total, max_records: 1_000_000 });
      expect(report.files).toEqual({ count: 2, stored_bytes: 3 * 1024 * 1024, max_bytes: 10 * 1024 ** 3 });
      // The limits are the command's settings (found by mutation testing: a record limit fixed at its default passed).
      const limits = JSON.parse((await cli(['family:show', email, '--json'], { SYNC_FAMILY_MAX_RECORDS: '5000', UPLOAD_FAMILY_MAX_BYTES: String(20 * 1024 ** 3) })).stdout);
      expect([limits.records.max_records, limits.files.max_bytes]).toEqual([5000, 20 * 1024 ** 3]);
    });

    // Found by mutation testing: members listed by when they joined only (the owner last, once the
    // family had been handed on to someone who joined later) passed every test.
    it('family:show lists the owner first, also one who joined after the others (the family was handed on)', async () => {
      const email = uniqueEmail('handed.on');
      const seeded = await cli(['seed', '--email', email, '--months', '1']);
      const { inviteCode, password } = credentials(seeded.stdout);
      const member = await joinFamily(t, inviteCode);
      const session = await login(email, password).expect(200);
      await t.http().post('/api/v1/families/me/owner').set(bearer(session.body.access_token)).send({ user_id: member.user.id, password }).expect(200);
      const report = JSON.parse((await cli(['family:show', inviteCode, '--json'])).stdout);
      expect(report.members.map((m: { email: string; role: string }) => [m.role, m.email])).toEqual([
        ['owner', member.email],
        ['member', email],
      ]);
    });

    itOnEmbeddedRun('family:show prints what members wrote with its control characters escaped: a name cannot forge a line, an email cannot command the terminal', async () => {
      const owner = await registerAccount(t, { name: 'Real Owner' });
      // A name or patient field may hold any character but NUL. An email's quoted local part could hold control
      // characters until emails refused them: an account stored before that is written here by hand.
      const forgedLine = '\r\x1b[2K    owner  someone.else@example.test (Real Owner)  user 00000000-0000-4000-8000-000000000000';
      const mallory = await joinFamily(t, owner.inviteCode, { name: `Mallory${forgedLine}` });
      const legacyEmail = `"\x1b]0;pwned\x07${randomUUID()}"@example.test`;
      await t.db.query('UPDATE users SET email = $1 WHERE id = $2', [legacyEmail, mallory.user.id]);
      // And an invisible character, which emails refuse now too: support must see it is not the real address.
      const lookAlike = await joinFamily(t, owner.inviteCode);
      const invisibleEmail = `look\u200balike-${randomUUID()}@example.test`;
      await t.db.query('UPDATE users SET email = $1 WHERE id = $2', [invisibleEmail, lookAlike.user.id]);
      await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ patient_name: 'Amira\nmembers (0):', patient_diagnosis: '\x9b2J' }).expect(200);

      const shown = await cli(['family:show', owner.inviteCode]);
      expect(shown.code).toBe(0);
      // Nothing a terminal acts on (C0 but the format's own newlines, DEL, C1); each member on its one line.
      expect(shown.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      const lines = shown.stdout.split('\n');
      expect(lines.filter((l) => /^\s+owner\s/.test(l))).toEqual([expect.stringContaining(`${owner.email} (Real Owner)`)]);
      expect(lines.filter((l) => /^\s+member\s/.test(l))).toEqual([
        expect.stringContaining('"\\u001b]0;pwned\\u0007'),
        expect.stringContaining(invisibleEmail.replace('\u200b', '\\u200b')),
      ]);
      expect(shown.stdout).toContain('(Mallory\\r\\u001b[2K    owner  someone.else@example.test');
      expect(shown.stdout).toMatch(/patient:\s+Amira\\nmembers \(0\):, \\u009b2J\n/);

      // Such an account can no longer sign in; support removes it by its email as stored, and the answer shows it escaped.
      const deleted = await cli(['user:delete', '--email', legacyEmail]);
      expect({ code: deleted.code, stderr: deleted.stderr }).toEqual({ code: 0, stderr: '' });
      expect(deleted.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      expect(deleted.stdout).toContain(`Deleted "\\u001b]0;pwned\\u0007`);
      expect(await t.db.query('SELECT 1 FROM users WHERE id = $1', [mallory.user.id])).toEqual([]);
    });
  });

  describeOnEmbeddedRun('beside a running `npm start` on the embedded PostgreSQL (same DATA_DIR)', () => {
    // Made in beforeAll, not here: a skipped describe (the DATABASE_URL run) still runs this body but
    // never its afterAll, and left the directory behind.
    let appDataDir: string;
    let app: Running;
    /** No DATABASE_URL: the CLIs find the app's embedded server (another EMBEDDED_PG_PORT on purpose). */
    let besideApp: Record<string, string | undefined>;

    beforeAll(async () => {
      appDataDir = scratchDir('hemoday-cli-app-');
      const port = await freePort();
      app = startService({ PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()), DATA_DIR: appDataDir });
      await waitForHealth(port, app);
      besideApp = { DATABASE_URL: undefined, DATA_DIR: appDataDir, EMBEDDED_PG_PORT: String(await freePort()) };
    }, 120_000);
    afterAll(async () => {
      await stopAll();
      if (appDataDir) removeDir(appDataDir);
    });

    /** The attach warning went to stderr, without colours (not a terminal); stdout is the result alone. */
    const expectWarningOnStderr = (run: Run) => {
      expect(run.stderr).toMatch(/WARN \[EmbeddedPostgres\] using the embedded PostgreSQL of the running app \(pid \d+\)/);
      expect(run.stderr).not.toContain('\x1b[');
      expect(run.stdout).not.toMatch(/EmbeddedPostgres|WARN/);
    };

    it('--json prints only JSON on stdout while the CLI logs a warning (family:show, files:cleanup)', async () => {
      const email = uniqueEmail('beside');
      const created = await cli(['user:create', '--email', email, '--password', 'long enough'], besideApp);
      expect(created.code).toBe(0);
      expectWarningOnStderr(created);
      expect(created.stdout).toMatch(/^Created /);

      const shown = await cli(['family:show', email, '--json'], besideApp);
      expect(shown.code).toBe(0);
      expectWarningOnStderr(shown);
      expect(JSON.parse(shown.stdout).members).toEqual([expect.objectContaining({ email, role: 'owner' })]);

      const cleanup = await cli(['files:cleanup', '--dry-run', '--json'], besideApp);
      expect(cleanup.code).toBe(0);
      expectWarningOnStderr(cleanup);
      expect(JSON.parse(cleanup.stdout)).toMatchObject({ dry_run: true, failures: [] });
    });

    it('npm run migration:* uses the running app\'s server too, as `node dist/cli.js migration:run` does, and leaves it serving', async () => {
      const migrationCli = (args: string[]) => cli(args, besideApp, { entry: resolve('dist/src/database/migration-cli.js') });
      for (const command of [['show'], ['run']]) {
        const run = await migrationCli(command);
        expect({ code: run.code, stdout: run.stdout }).toEqual({
          code: 0,
          stdout: expect.stringMatching(command[0] === 'show' ? /^No pending migrations \(\d+ applied, the last: \w+\)\.\n$/ : /^Database schema is up to date\.\n$/),
        });
        expectWarningOnStderr(run);
      }
      expect(app.child.exitCode).toBeNull();
      expect((await cli(['migration:run'], besideApp)).stdout).toMatch(/^Database schema is up to date\./);
    });
  });

  it('migration:run and migration:revert through the CLI, on a database of their own', async () => {
    const name = `hemoday_cli_mig_${process.pid}_${Date.now()}`;
    await db.query(`CREATE DATABASE ${name}`);
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/${name}`;
    const env = { DATABASE_URL: url.toString() };
    try {
      const applied = await cli(['migration:run'], env);
      expect(applied.code).toBe(0);
      expect(applied.stdout).toMatch(/^Applied: InitialSchema\d+, /);
      expect((await cli(['migration:run'], env)).stdout).toMatch(/up to date/);
      const reverted = await cli(['migration:revert'], env);
      expect(reverted.code).toBe(0);
      expect(reverted.stdout).toMatch(/^Reverted: \w+\d+/);
      expect((await cli(['migration:run'], env)).stdout).toMatch(/^Applied: /);
    } finally {
      await db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
});
