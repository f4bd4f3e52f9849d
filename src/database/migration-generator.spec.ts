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
    ].map((query) => ({ query }));
    expect(destructiveStatements(queries)).toEqual([]);
  });

  it('writes a migration class whose SQL is quoted safely in template literals', () => {
    const source = migrationSource('Probe1', [{ query: 'SELECT `x`, \'${y}\'' }], [{ query: 'SELECT 1' }]);
    expect(source).toContain('export class Probe1 implements MigrationInterface');
    expect(source).toContain("await q.query(`SELECT \\`x\\`, '\\${y}'`);");
  });
});
