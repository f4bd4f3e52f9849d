import pg from 'pg';

/**
 * Empty databases of their own, on the server the run uses (DATABASE_URL's or the embedded one),
 * for tests that must watch migrations run from nothing. Call `open()` in beforeAll and
 * `dropAll()` in afterAll.
 */
export function scratchDatabases(prefix: string) {
  let admin: pg.Client | undefined;
  const names: string[] = [];
  return {
    async open(): Promise<void> {
      admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await admin.connect();
    },
    /** A new, empty database; its URL. */
    async create(): Promise<string> {
      const name = `${prefix}_${process.pid}_${Date.now()}_${names.length}`;
      await admin!.query(`CREATE DATABASE ${name}`);
      names.push(name);
      const url = new URL(process.env.TEST_DATABASE_URL!);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async dropAll(): Promise<void> {
      if (!admin) return;
      for (const name of names) {
        // A pool's end() resolves once it has asked its connections to close, not once they have: FORCE
        // would terminate the ones still closing, and their pool would log "terminating connection
        // due to administrator command". Give them a moment first.
        for (let wait = 0; wait < 20 && (await sessionsOf(admin, name)) > 0; wait++) await new Promise((r) => setTimeout(r, 100));
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
      await admin.end();
    },
  };
}

async function sessionsOf(admin: pg.Client, database: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [database]);
  return rows[0].n;
}

/** One statement on its own connection (a scratch database has no pool of its own). */
export async function queryOnce<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}
