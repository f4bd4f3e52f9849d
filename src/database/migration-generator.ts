/**
 * What `npm run migration:generate` writes: a migration class from the SQL
 * TypeORM's schema builder proposes, and a check that none of it silently
 * destroys data or constraints.
 */

export interface GeneratedQuery {
  query: string;
}

/**
 * Statements that drop or rewrite something that exists: tables, columns,
 * constraints, indexes, or a column type change (TypeORM also "renames" a
 * column as DROP + ADD). TypeORM proposes these whenever the database holds
 * something the entities do not declare.
 */
export function destructiveStatements(queries: GeneratedQuery[]): string[] {
  return queries
    .map((q) => q.query.trim())
    .filter((sql) => /^(DROP\b|TRUNCATE\b|ALTER\s+TABLE\b[\s\S]*\b(DROP|ALTER\s+COLUMN\s+\S+\s+TYPE|RENAME)\b)/i.test(sql));
}

export function migrationSource(className: string, up: GeneratedQuery[], down: GeneratedQuery[]): string {
  const quote = (q: string) => '`' + q.replace(/[`\\]/g, '\\$&').replace(/\$\{/g, '\\${') + '`';
  const lines = (queries: GeneratedQuery[]) => queries.map((q) => `    await q.query(${quote(q.query)});`).join('\n');
  return `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(q: QueryRunner): Promise<void> {
${lines(up)}
  }

  async down(q: QueryRunner): Promise<void> {
${lines([...down].reverse())}
  }
}
`;
}
