import { destructiveStatements, migrationSource } from './migration-generator.js';

describe('migration:generate output', () => {
  it('flags every statement that drops or rewrites an existing object', () => {
    const queries = [
      'ALTER TABLE "users" DROP CONSTRAINT "users_family_id_fkey"',
      'DROP INDEX "public"."users_family_id_idx"',
      'ALTER TABLE "files" DROP COLUMN "sha256"',
      'ALTER TABLE "files" ALTER COLUMN "mime_type" TYPE varchar(50)',
      'ALTER TABLE "families" RENAME COLUMN "notes" TO "remarks"',
      'DROP TABLE "files"',
      'TRUNCATE "files"',
      'ALTER TABLE "users" ALTER COLUMN "name" DROP NOT NULL',
      // Whatever the spacing or case it comes in.
      '\n  DROP INDEX "public"."files_storage_key_key"',
      'alter table "files" drop column "original_name"',
    ].map((query) => ({ query }));
    expect(destructiveStatements(queries)).toHaveLength(queries.length);
  });

  it('lets additions through', () => {
    const queries = [
      'ALTER TABLE "families" ADD "nickname" character varying(50)',
      'CREATE INDEX "families_nickname_idx" ON "families" ("nickname")',
      'ALTER TABLE "users" ADD CONSTRAINT "users_name_check" CHECK (length(name) > 0)',
      'CREATE TABLE "notes" ("id" uuid NOT NULL, CONSTRAINT "notes_pkey" PRIMARY KEY ("id"))',
      'ALTER TABLE "users" ALTER COLUMN "name" SET NOT NULL',
      // A statement that only mentions the word, not one that drops.
      `COMMENT ON COLUMN "files"."sha256" IS 'drop the row when the bytes are gone'`,
    ].map((query) => ({ query }));
    expect(destructiveStatements(queries)).toEqual([]);
  });

  // Found by mutation testing: the written `name` (what the migrations table records), the order of
  // down() and a backslash in the SQL (a CHECK's regular expression) were not checked.
  it('writes the SQL it was given, exactly: up in order, down in reverse (the last change undone first)', () => {
    const up = [`ALTER TABLE "users" ADD CONSTRAINT "users_code_check" CHECK (code ~ '^\\d{6}$')`, 'CREATE INDEX "users_code_idx" ON "users" ("code")'];
    const down = ['ALTER TABLE "users" DROP CONSTRAINT "users_code_check"', 'DROP INDEX "public"."users_code_idx"'];
    const source = migrationSource('Probe1', up.map((query) => ({ query })), down.map((query) => ({ query })));
    expect(source).toContain("name = 'Probe1';");
    // What each `await q.query(<template literal>)` line evaluates to, in the order written.
    const written = [...source.matchAll(/await q\.query\((`(?:[^`\\]|\\.)*`)\);/g)].map((m) => new Function(`return ${m[1]}`)() as string);
    expect(written).toEqual([...up, ...[...down].reverse()]);
    expect(source.indexOf('async up(')).toBeLessThan(source.indexOf('users_code_check'));
    expect(source.indexOf('async down(')).toBeLessThan(source.indexOf('DROP INDEX'));
  });

  it('writes a migration class whose SQL is quoted safely in template literals', () => {
    const source = migrationSource('Probe1', [{ query: 'SELECT `x`, \'${y}\'' }], [{ query: 'SELECT 1' }]);
    expect(source).toContain('export class Probe1 implements MigrationInterface');
    expect(source).toContain("await q.query(`SELECT \\`x\\`, '\\${y}'`);");
  });
});
