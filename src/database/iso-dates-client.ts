import pg from 'pg';

/**
 * The node-postgres client of the app's pools (and the base of deadlineClient's): asks PostgreSQL
 * in its start-up packet for `DateStyle = ISO`, as the JDBC driver does, whatever the server,
 * database or role is set to. node-postgres parses timestamptz in ISO form only, and read every
 * one printed otherwise ('SQL, DMY', 'German', 'Postgres') as null — a refresh token's expires_at
 * (every refresh answered 500), its used_at (a retired token taken for an unused one), a user's
 * tokens_valid_after (found by review).
 *
 * Sent in the start-up packet, not as a SET: it holds from the connection's first statement, costs
 * no round trip, and PgBouncer carries DateStyle itself (one of the few start-up parameters it
 * accepts without configuration, also in transaction mode). The other settings the app depends on
 * are checked once at start-up instead (database-requirements.ts). node-postgres sends only the
 * parameters it knows; `getStartupConf` is its (untyped) method that builds the packet, whose result
 * is kept whole. The database-settings e2e test and this file's spec fail if a node-postgres
 * release stops calling it.
 */
export class IsoDatesClient extends pg.Client {
  /**
   * The error the connection was lost with, once it was (reportLostConnections). Listening also keeps
   * an 'error' with no other listener from being thrown out of the socket's handler.
   */
  lostWith?: Error;

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', (error) => (this.lostWith ??= error));
  }

  getStartupConf(): Record<string, string> {
    const conf = (pg.Client.prototype as unknown as { getStartupConf(this: pg.Client): Record<string, string> }).getStartupConf.call(this);
    return { ...conf, DateStyle: 'ISO' };
  }
}
