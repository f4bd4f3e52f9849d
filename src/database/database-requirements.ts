import type { DataSource } from 'typeorm';

/**
 * The database would not keep what the app is given, or could not run its writes: refused before
 * any migration or request, naming the setting and the fix. Carries no stack frames, so the
 * start-up's one failure line is just the message.
 */
export class DatabaseRequirementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseRequirementError';
    this.stack = `${this.name}: ${message}`;
  }
}

interface DatabaseSettings {
  name: string;
  encoding: string;
  float_digits: string;
  isolation: string;
}

/**
 * What the app needs of the database and its session defaults (a server, database or role may
 * change them), checked in one statement on the start-up's connection, with the same defaults as
 * every pooled one:
 *
 * - UTF8. Every limit of the app counts Unicode characters (code points), and every text it accepts
 *   (well-formed Unicode, no NUL) must be storable. A SQL_ASCII database — what `createdb` makes on
 *   a cluster initialised under the C locale, as in many minimal containers — counts varchar(n) in
 *   bytes: a patient name of 200 'é' (400 bytes), which PATCH /families/me and a sync push accept,
 *   failed the insert with a 500; a LATIN1 one cannot store an emoji or Cyrillic at all (found by review).
 * - `extra_float_digits` above 0 (PostgreSQL's default is 1: every float8 printed in its shortest
 *   exact form). At 0 or below it prints 15 significant digits, and every number the app reads —
 *   a pull's `row_to_json`, the patient's weight through TypeORM — came back other than the phone
 *   pushed it: 0.30000000000000004 pushed, 0.3 pulled (found by review). Checked rather than asked
 *   for in each connection's start-up packet: PgBouncer refuses a connection that sends it unless
 *   configured to ignore it, and an upgrade would have cut every instance behind one off.
 * - `default_transaction_isolation` READ COMMITTED (PostgreSQL's default). A versioned write locks
 *   its family's row, and the writes of one family wait for each other on it; under REPEATABLE READ
 *   or SERIALIZABLE the one that waited fails on the row the other changed (40001) instead of
 *   reading it, and concurrent pushes answered 500 (found by review). The pull names its own level.
 */
export async function assertDatabaseRequirements(dataSource: DataSource): Promise<void> {
  const [settings]: DatabaseSettings[] = await dataSource.query(
    `SELECT current_database() AS name, current_setting('server_encoding') AS encoding,
            current_setting('extra_float_digits') AS float_digits, current_setting('default_transaction_isolation') AS isolation`,
  );
  const problems = requirementProblems(settings);
  if (problems.length) throw new DatabaseRequirementError(problems.join('; '));
}

/** Each requirement the settings miss, in words naming the fix (empty: all met). */
export function requirementProblems(settings: DatabaseSettings): string[] {
  const { name, encoding, float_digits: floatDigits, isolation } = settings;
  const problems: string[] = [];
  if (encoding !== 'UTF8') {
    problems.push(
      `database "${name}" has the encoding ${encoding}; HemoDay needs a UTF8 database ` +
        `(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0, or createdb --encoding=UTF8 --template=template0)`,
    );
  }
  if (Number(floatDigits) <= 0) {
    problems.push(
      `database "${name}" prints numbers with extra_float_digits = ${floatDigits}, rounded to 15 digits; HemoDay must send back ` +
        `exactly the numbers phones pushed: set it to PostgreSQL's default (ALTER DATABASE "${name}" SET extra_float_digits = 1, ` +
        `or the same on the role, or in postgresql.conf)`,
    );
  }
  if (isolation !== 'read committed') {
    problems.push(
      `database "${name}" starts transactions at ${isolation.toUpperCase()}; HemoDay's writes need READ COMMITTED, PostgreSQL's default ` +
        `(ALTER DATABASE "${name}" SET default_transaction_isolation = 'read committed', or the same on the role, or in postgresql.conf)`,
    );
  }
  return problems;
}
