import type { QueryRunner } from 'typeorm';
import { NormalizeEmails1764750000000 } from '../../migrations/1764750000000-NormalizeEmails.js';
import { createUsersForEmailMigration, useScratchSchema } from '../setup/scratch-schema.js';

/**
 * The migration against the run's real PostgreSQL (embedded 18, or 15 in CI's second pass), on a
 * users table as the initial schema made it, in a scratch schema of its own.
 */
describe('migration NormalizeEmails1764750000000', () => {
  let q: QueryRunner;
  let schema: string;
  const migration = new NormalizeEmails1764750000000();
  useScratchSchema(
    'mig_emails',
    (q) => createUsersForEmailMigration(q, 'CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))'),
    (runner, name) => ((q = runner), (schema = name)),
  );

  const insert = async (email: string): Promise<string> => (await q.query('INSERT INTO users (email) VALUES ($1) RETURNING id', [email]))[0].id;
  // Sorted here: ORDER BY would follow the database's collation, which differs between the two servers.
  const emails = async (): Promise<string[]> => (await q.query('SELECT email FROM users')).map((r: { email: string }) => r.email).sort();
  const indexes = async () =>
    (await q.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname', [schema, 'users'])).map(
      (r: { indexname: string; indexdef: string }) => `${r.indexname}: ${r.indexdef.replace(/^.* USING /, '')}`,
    );

  it('rewrites every email in normalized form and makes email itself unique', async () => {
    await insert('ÄBC@Example.com');
    await insert('  Bob@X.org ');
    await insert('already@ok.example');
    await insert('Zoe\u0308@x.example'); // decomposed ë
    await migration.up(q);
    expect(await emails()).toEqual(['already@ok.example', 'bob@x.org', 'zo\u00eb@x.example', '\u00e4bc@example.com'].sort());
    expect(await indexes()).toEqual(['users_email_key: btree (email)', 'users_pkey: btree (id)']);
    // Equality is now the rule, whatever the database locale: the normalized form is taken…
    await expect(q.query('INSERT INTO users (email) VALUES ($1)', ['\u00e4bc@example.com'])).rejects.toMatchObject({ driverError: { code: '23505' } });
  });

  it('stops, naming the accounts, when two emails become one, and changes nothing', async () => {
    // Composed and decomposed ä: different strings for lower() in every locale, one email for the app.
    const first = await insert('\u00e4bc@example.com');
    const second = await insert('A\u0308BC@example.com');
    const untouched = await insert('Other@Example.com');
    const before = await emails();
    let error: Error | undefined;
    try {
      await migration.up(q);
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(/Cannot normalize emails: 1 group/);
    expect(error?.message).toContain(`[${first}, ${second}]`);
    expect(error?.message).not.toContain(untouched);
    expect(error?.message).not.toContain('example.com'); // ids, not addresses, in logs
    expect(await emails()).toEqual(before);
    expect(await indexes()).toEqual(['users_email_lower_key: btree (lower((email)::text))', 'users_pkey: btree (id)']);
  });

  it('down() puts the lower(email) index back (emails stay normalized)', async () => {
    await insert('Mixed@Case.example');
    await migration.up(q);
    await migration.down(q);
    expect(await indexes()).toEqual(['users_email_lower_key: btree (lower((email)::text))', 'users_pkey: btree (id)']);
    expect(await emails()).toEqual(['mixed@case.example']);
  });
});
