import pg from 'pg';

/**
 * The node-postgres client of the app's pools (and the base of deadlineClient's): asks PostgreSQL
 * in its start-up packet for the output formats the app reads, whatever the server, database or
 * role is set to:
 *
 * - `extra_float_digits = 3`, as the JDBC driver does. Since PostgreSQL 12 any value above 0 prints
 *   float8 in its shortest exact form, and the default (1) already does — but one set to 0 prints
 *   15 significant digits, and every float the app reads (a pull's `row_to_json`, the family's
 *   patient weight through TypeORM) came back changed: 0.30000000000000004 pushed, 0.3 pulled
 *   (found by review). Values are the phone's JS numbers; what it pushed must be what every device pulls.
 * - `DateStyle = ISO`, as the JDBC driver does too: node-postgres parses timestamptz in ISO form
 *   only, and read every one printed otherwise ('SQL, DMY', 'German', 'Postgres') as null — a
 *   refresh token's expires_at (every refresh answered 500), its used_at (a retired token taken for
 *   an unused one), a user's tokens_valid_after (found by review).
 *
 * Sent in the start-up packet, not as a SET: it holds from the connection's first statement, costs
 * no round trip, and holds through a pooler in transaction mode (PgBouncer tracks DateStyle itself;
 * add extra_float_digits to its `ignore_startup_parameters`, as for JDBC, DEPLOYMENT.md).
 * node-postgres sends only the parameters it knows; `getStartupConf` is its (untyped) method that
 * builds the packet, whose result is kept whole. The database-settings e2e tests fail if a
 * node-postgres release stops calling it.
 */
export class ExactFloatsClient extends pg.Client {
  getStartupConf(): Record<string, string> {
    const conf = (pg.Client.prototype as unknown as { getStartupConf(this: pg.Client): Record<string, string> }).getStartupConf.call(this);
    return { ...conf, extra_float_digits: '3', DateStyle: 'ISO' };
  }
}
