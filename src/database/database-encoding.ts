import type { DataSource } from 'typeorm';

/**
 * The database is not UTF8: refused before any migration or request. Every limit of the app counts
 * Unicode characters (code points), and every text it accepts (well-formed Unicode, no NUL) must be
 * storable; on another encoding neither holds. A SQL_ASCII database — what `createdb` makes on a
 * cluster initialised under the C locale, as in many minimal containers — counts varchar(n) in bytes:
 * a patient name of 200 'é' (400 bytes), which PATCH /families/me and a sync push accept, failed the
 * insert with a 500; a LATIN1 one cannot store an emoji or Cyrillic at all (found by review). Carries
 * no stack frames, so the start-up's one failure line is just the message.
 */
export class DatabaseEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseEncodingError';
    this.stack = `${this.name}: ${message}`;
  }
}

export async function assertUtf8Database(dataSource: DataSource): Promise<void> {
  const [row]: Array<{ encoding: string; name: string }> = await dataSource.query(
    `SELECT current_setting('server_encoding') AS encoding, current_database() AS name`,
  );
  if (row.encoding !== 'UTF8') {
    throw new DatabaseEncodingError(
      `database "${row.name}" has the encoding ${row.encoding}; HemoDay needs a UTF8 database ` +
        `(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0, or createdb --encoding=UTF8 --template=template0)`,
    );
  }
}
