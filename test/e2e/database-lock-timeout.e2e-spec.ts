/**
 * A database (or role) with a lock_timeout of its own, as operators set to keep a schema change from
 * queueing every query behind it: a push that waits longer for its family's lock is refused by
 * PostgreSQL with 55P03, and answered as the statement timeout's wait is, 503 with Retry-After.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { queryOnce } from '../setup/scratch-databases.js';
import { useScratchDatabaseApps } from '../setup/test-app.js';

describe('the app on a database set lock_timeout', () => {
  const scratch = useScratchDatabaseApps('hemoday_lock_timeout');

  it('a push waiting longer than lock_timeout for its family row answers 503 DATABASE_UNAVAILABLE with Retry-After (it answered 500), and goes through once the row is free', async () => {
    const url = await scratch.database();
    await queryOnce(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET lock_timeout = '200ms'`);
    const t = await scratch.app({ DATABASE_URL: url });
    const owner = await registerFamily(t);
    const push = () =>
      t!
        .http()
        .post('/api/v1/sync?last_pulled_at=0')
        .set(bearer(owner.token))
        .send({ changes: { transfusions: { created: [{ id: randomUUID(), family_id: owner.family.id, date: Date.now(), volume_ml: 250, created_at: 1, updated_at: 1 }], updated: [], deleted: [] } } });
    // Another writer of the family, stalled with its lock (lock_timeout does not apply to the holder).
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM families WHERE id = $1 FOR UPDATE', [owner.family.id]);
      const refused = await push();
      expect([refused.status, refused.headers['retry-after'], refused.body.details?.code]).toEqual([503, '5', 'DATABASE_UNAVAILABLE']);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    await push().expect(200);
  });
});
