import type { QueryRunner } from 'typeorm';
import { FoldDottedIInEmails1764870000000 } from '../../migrations/1764870000000-FoldDottedIInEmails.js';
import { normalizeEmail } from '../../src/modules/auth/email.js';
import { createUsersForEmailMigration, useScratchSchema } from '../setup/scratch-schema.js';

/**
 * The migration against the run's real PostgreSQL, on a users table as NormalizeEmails left it
 * (email unique by equality), in a scratch schema of its own.
 */
describe('migration FoldDottedIInEmails1764870000000', () => {
  let q: QueryRunner;
  const migration = new FoldDottedIInEmails1764870000000();
  useScratchSchema(
    'mig_dotted_i',
    (q) => createUsersForEmailMigration(q, 'CREATE UNIQUE INDEX users_email_key ON users (email)'),
    (runner) => (q = runner),
  );

  const insert = async (email: string): Promise<string> => (await q.query('INSERT INTO users (email) VALUES ($1) RETURNING id', [email]))[0].id;
  const emailOf = async (id: string): Promise<string> => (await q.query('SELECT email FROM users WHERE id = $1', [id]))[0].email;

  it('folds the dotted i of stored emails (İ lower-cased before the fold), so that their owners typing İ or i find them', async () => {
    const turkish = await insert('i\u0307lker@gmai\u0307l.example'); // 'İlker@gmaİl.example' as the old rule stored it
    const twoDots = await insert('ayli\u0307\u0307n@example.test');
    const acute = await insert('ni\u0307\u0301lda@example.test'); // i, dot, acute: í once the dot goes
    const plain = await insert('deniz@example.test');
    await migration.up(q);
    expect(await emailOf(turkish)).toBe('ilker@gmail.example');
    expect(await emailOf(twoDots)).toBe('aylin@example.test');
    expect(await emailOf(acute)).toBe('n\u00edlda@example.test');
    expect(await emailOf(plain)).toBe('deniz@example.test');
    // What the app now makes of the typed spellings is the stored email.
    for (const typed of ['İlker@GMAİL.example', 'ILKER@GMAIL.EXAMPLE', 'i\u0307lker@gmai\u0307l.example']) expect(normalizeEmail(typed)).toBe(await emailOf(turkish));
  });

  it('stops, naming the accounts, when two emails become one (the look-alike of an account, or two look-alikes), and changes nothing', async () => {
    const real = await insert('selin@example.test');
    const lookAlike = await insert('seli\u0307n@example.test');
    const twinA = await insert('i\u0307pek@example.test');
    const twinB = await insert('i\u0307\u0307pek@example.test');
    const alone = await insert('emi\u0307r@example.test');
    const before = await q.query('SELECT id, email FROM users ORDER BY id');
    let error: Error | undefined;
    try {
      await migration.up(q);
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(/Cannot fold the dotted i of emails: 2 group\(s\)/);
    expect(error?.message).toContain(`[${real}, ${lookAlike}]`);
    expect(error?.message).toContain(`[${twinA}, ${twinB}]`);
    expect(error?.message).not.toContain(alone);
    expect(error?.message).not.toContain('example.test'); // ids, not addresses, in logs
    expect(await q.query('SELECT id, email FROM users ORDER BY id')).toEqual(before);
  });

  // Found by mutation testing: nothing had a dot above that is not an i's, which the fold leaves alone.
  it('leaves an email whose dot above sits on another letter as it is, beside one it folds', async () => {
    const other = await insert('q\u0307uinn@example.test'); // no precomposed q with a dot: stays two code points
    const turkish = await insert('ci\u0307nar@example.test');
    await migration.up(q);
    expect(await emailOf(other)).toBe('q\u0307uinn@example.test');
    expect(await emailOf(turkish)).toBe('cinar@example.test');
  });

  it('runs on a table without such emails, and down() changes nothing', async () => {
    const id = await insert('a@example.test');
    await migration.up(q);
    await migration.down();
    expect(await emailOf(id)).toBe('a@example.test');
  });
});
