import { createHash } from 'node:crypto';
import pg from 'pg';
import pgUtils from 'pg/lib/utils.js';
import { QueryFailedError, type EntityManager, type QueryRunner } from 'typeorm';

/** One statement of a batch: SQL text with `$n` parameters, and their values. */
export interface BatchStatement {
  text: string;
  values?: readonly unknown[];
  /**
   * Kept prepared on each connection (a named statement, named by its text) instead of parsed and
   * planned anew each time: for a hot statement of fixed text whose planning costs about as much as
   * its execution, or more. PostgreSQL plans its first five runs for their values, then keeps one
   * generic plan if it costs no more (plan_cache_mode); a statement whose text varies (a list of
   * tables, say) would only fill the connection with statements: leave it unnamed.
   */
  prepared?: boolean;
}

/** A statement kept prepared on each connection that runs it (see BatchStatement.prepared). */
export function prepared(text: string, values: readonly unknown[]): BatchStatement {
  return { text, values, prepared: true };
}

/** What node-postgres's Result keeps that @types/pg does not declare. */
interface PgResult {
  command: string | null;
  rows: unknown[];
}

/** node-postgres's protocol writer, as a Query reaches it (pg/lib/connection.js). */
interface PgConnection {
  parse(message: { text: string; name: string }): void;
  bind(message: { portal: string; statement: string; values: unknown[]; binary: boolean }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: { portal: string }): void;
  close(message: { type: 'S'; name: string }): void;
  sync(): void;
}

/**
 * Per connection, the named statements it holds: `true` when its Parse certainly succeeded,
 * `false` when a batch failed before telling (it is closed and parsed again on next use).
 */
const preparedOn = new WeakMap<PgConnection, Map<string, boolean>>();

/** A statement's name on the server: its text's hash, so one text is one name on every connection. */
function statementName(text: string): string {
  return `hemoday_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
}

/**
 * Several statements sent in one write and answered in one round trip: each one's Parse (unless
 * the connection holds it prepared), Bind, Describe and Execute, then a single Sync. PostgreSQL
 * runs them in order; at the first error it skips the rest up to the Sync (the extended protocol's
 * rule), so a batch stops where the same statements awaited one by one would have stopped, and a
 * transaction it runs in is left failed, to be rolled back. Each Execute gets its own
 * statement_timeout, as a statement sent alone does.
 *
 * A node-postgres Query, so that the client's queue, error and notice handling and result parsing
 * (one Result per CommandComplete, as for a multi-statement simple query) are node-postgres's own;
 * only the messages written differ (`prepare`).
 */
export class StatementBatch extends pg.Query {
  /** Statements whose CommandComplete arrived: the one that failed, if any, is the next. */
  completed = 0;
  /** Called as each statement completes (deadline-client.ts: the deadline is per statement). */
  onProgress?: () => void;
  /** Settles with the batch (after the callback given to the constructor). */
  readonly done: Promise<void>;
  private readonly bound: Array<{ text: string; values: unknown[]; name: string }>;
  private connection?: PgConnection;

  constructor(
    readonly statements: readonly BatchStatement[],
    callback: (error: Error | undefined, results: PgResult | PgResult[]) => void,
  ) {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    // 'extended': node-postgres calls prepare() (below) rather than sending a simple Query message.
    super({ text: statements.map((s) => s.text).join(';\n'), queryMode: 'extended' } as pg.QueryConfig, ((error: Error | null | undefined, results: PgResult | PgResult[]) => {
      this.remember(!error);
      settle();
      callback(error ?? undefined, results);
    }) as never);
    this.done = done;
    // node-postgres's own conversion (arrays, dates, JSON), done before anything is written: a value
    // it cannot convert fails the batch before a byte is sent.
    this.bound = statements.map((s) => ({
      text: s.text,
      values: (s.values ?? []).map((v) => pgUtils.prepareValue(v)),
      name: s.prepared ? statementName(s.text) : '',
    }));
  }

  /** Called by Query.submit with the socket corked: the whole batch leaves in one write. */
  prepare(connection: PgConnection): void {
    this.connection = connection;
    let held = preparedOn.get(connection);
    if (!held) preparedOn.set(connection, (held = new Map()));
    const parsedHere = new Set<string>();
    for (const { text, values, name } of this.bound) {
      const state = name ? held.get(name) : undefined;
      if (!name || (state !== true && !parsedHere.has(name))) {
        // A statement a failed batch may or may not have created: closing one that does not exist is no error.
        if (state === false) connection.close({ type: 'S', name });
        connection.parse({ text, name });
        if (name) parsedHere.add(name);
      }
      connection.bind({ portal: '', statement: name, values, binary: false });
      connection.describe({ type: 'P', name: '' });
      connection.execute({ portal: '' });
    }
    connection.sync();
  }

  handleCommandComplete(message: unknown, connection: unknown): void {
    this.completed++;
    this.onProgress?.();
    (pg.Query.prototype as unknown as { handleCommandComplete(m: unknown, c: unknown): void }).handleCommandComplete.call(this, message, connection);
  }

  /**
   * What the connection now holds: every named statement of a batch that succeeded; after a
   * failure, those of the statements that completed, and the others unknown (the failing one's
   * Parse may have succeeded, the later ones' were skipped).
   */
  private remember(succeeded: boolean): void {
    const held = this.connection && preparedOn.get(this.connection);
    if (!held) return;
    this.bound.forEach(({ name }, i) => {
      if (name && held.get(name) !== true) held.set(name, succeeded || i < this.completed);
    });
  }
}

/** The pg client under a TypeORM query runner (connected). */
interface ConnectedRunner extends QueryRunner {
  databaseConnection: pg.Client;
}

/**
 * Runs `statements` on the connection of `manager`'s query runner (a transaction's, or one taken
 * with createQueryRunner) in one round trip (StatementBatch) and returns each one's rows, in order.
 * The first failing statement rejects the whole batch with a QueryFailedError naming it, as
 * TypeORM's `query` would have; the statements after it did not run. Inside a transaction, that
 * leaves it failed: the caller rolls back, as after any failed statement.
 */
export async function runBatch(manager: EntityManager, statements: readonly BatchStatement[]): Promise<unknown[][]> {
  const runner = manager.queryRunner as ConnectedRunner | undefined;
  // The data source's own manager would take a pool connection per statement: a batch needs one.
  if (!runner) throw new Error('runBatch needs the manager of a query runner');
  await runner.connect();
  const client = runner.databaseConnection;
  // DB_PREPARED_STATEMENTS=false (a pooler that cannot carry them): every statement unnamed.
  const named = (runner.connection.options.extra as { preparedStatements?: boolean } | undefined)?.preparedStatements !== false;
  // Every statement goes through the data source's logger, as TypeORM's own queries do (the
  // sync-volume test counts statements there).
  const logger = runner.connection.logger;
  for (const { text, values } of statements) logger.logQuery(text, values as unknown[] | undefined, runner);
  let batch: StatementBatch | undefined;
  const results = await new Promise<PgResult[]>((resolve, reject) => {
    const sent = named ? statements : statements.map((s) => ({ ...s, prepared: false }));
    batch = new StatementBatch(sent, (error, results) => (error ? reject(error) : resolve(Array.isArray(results) ? results : [results])));
    client.query(batch as never);
  }).catch((error: unknown) => {
    // As TypeORM's `query` reports a failed statement (postgres-errors.ts reads its driverError).
    const failed = statements[Math.min(batch?.completed ?? 0, statements.length - 1)];
    logger.logQueryError(error as Error, failed.text, failed.values as unknown[] | undefined, runner);
    throw new QueryFailedError(failed.text, failed.values as unknown[] | undefined, error as Error);
  });
  if (results.length !== statements.length) throw new Error(`a batch of ${statements.length} statements got ${results.length} results`);
  return results.map((r) => r.rows);
}
