import { randomUUID } from 'node:crypto';
import watermelon from '@nozbe/watermelondb';
import type { Database as DatabaseType, Model as ModelType } from '@nozbe/watermelondb';
import type { AppSchema } from '@nozbe/watermelondb/Schema/index.js';
import type { SchemaMigrations } from '@nozbe/watermelondb/Schema/migrations/index.js';
import LokiJSAdapterModule from '@nozbe/watermelondb/adapters/lokijs/index.js';
import syncModule from '@nozbe/watermelondb/sync/index.js';
import randomIdModule from '@nozbe/watermelondb/utils/common/randomId/index.js';
import loggerModule from '@nozbe/watermelondb/utils/common/logger/index.js';
import { migrationsFor, schemaV2, TABLE_NAMES } from './schema.js';

// CommonJS modules seen from ESM: the namespace's default is module.exports.
const { Database, Model, Q } = watermelon as unknown as typeof import('@nozbe/watermelondb');
const LokiJSAdapter = ((LokiJSAdapterModule as unknown as { default?: unknown }).default ?? LokiJSAdapterModule) as typeof import('@nozbe/watermelondb/adapters/lokijs/index.js').default;
const { synchronize, hasUnsyncedChanges } = syncModule as unknown as typeof import('@nozbe/watermelondb/sync/index.js');
const { setGenerator } = randomIdModule as unknown as { setGenerator: (g: () => string) => void };
const logger = ((loggerModule as unknown as { default?: unknown }).default ?? loggerModule) as {
  warn: (...m: unknown[]) => void;
  error: (...m: unknown[]) => void;
  log: (...m: unknown[]) => void;
  debug: (...m: unknown[]) => void;
};

// The app must create UUIDs: the server keys every record by a canonical lower-case UUID.
setGenerator(() => randomUUID());

/** Every warning and error the WatermelonDB client logged (it logs sync anomalies instead of throwing). */
export const clientLog: string[] = [];
const capture = (level: string) => (...messages: unknown[]) => {
  clientLog.push(`${level}: ${messages.map((m) => (m instanceof Error ? m.message : String(m))).join(' ')}`);
};
logger.warn = capture('warn');
logger.error = capture('error');
logger.log = () => undefined;
logger.debug = () => undefined;

/** `[Sync]` warnings and errors logged so far. */
export function syncProblems(): string[] {
  return clientLog.filter((line) => line.includes('[Sync]') || line.startsWith('error'));
}

const modelClasses = TABLE_NAMES.map((table) => {
  const M = class extends Model {};
  (M as unknown as { table: string }).table = table;
  return M;
});

export type Raw = Record<string, unknown> & { id: string };

/** Which request of a sync is being sent (a load balancer may send each to another instance). */
export type SyncRequest = 'pull' | 'push';

export interface DeviceOptions {
  /** The app's base URL, or a function that picks one for each request (a load balancer without sticky sessions). */
  baseUrl: string | ((request: SyncRequest) => string);
  token: string;
  deviceId?: string | null;
  schema?: AppSchema;
  migrations?: SchemaMigrations;
  /** Share one in-memory Loki store between Device instances (an app upgrade on the same phone): see upgrade(). */
  lokiStore?: unknown;
  dbName?: string;
  /** Set on every record this device creates, as the app does. */
  familyId?: string;
}

/**
 * One phone: a WatermelonDB database (LokiJS, in memory) that syncs with the
 * real app over HTTP exactly like the mobile app: bearer token, X-Device-Id,
 * `synchronize()` with pullChanges / pushChanges.
 */
export class Device {
  readonly database: DatabaseType;
  readonly deviceId: string | null;
  /** The synced tables this app version has. */
  readonly tables: string[];
  /** The Loki database name (an upgrade reopens the same one). */
  private readonly dbName: string;
  token: string;
  /** Set on every record this device creates, as the app does (from GET /api/v1/auth/me); change it after a join. */
  familyId: string | undefined;
  pulls = 0;
  pushes = 0;

  constructor(private readonly options: DeviceOptions) {
    this.deviceId = options.deviceId === undefined ? randomUUID() : options.deviceId;
    this.token = options.token;
    this.familyId = options.familyId;
    this.dbName = options.dbName ?? `device-${randomUUID()}`;
    const adapter = new LokiJSAdapter({
      schema: options.schema ?? schemaV2,
      migrations: options.migrations ?? migrationsFor((options.schema ?? schemaV2).version),
      useWebWorker: false,
      useIncrementalIndexedDB: true,
      dbName: this.dbName,
      // No timers left behind: the store lives in memory for the test's duration only.
      extraLokiOptions: { autosave: false },
      ...(options.lokiStore ? { _testLokiAdapter: options.lokiStore as never } : {}),
    } as ConstructorParameters<typeof LokiJSAdapter>[0]);
    const schema = options.schema ?? schemaV2;
    this.tables = TABLE_NAMES.filter((table) => schema.tables[table]);
    this.database = new Database({ adapter, modelClasses: modelClasses.filter((M) => schema.tables[(M as unknown as { table: string }).table]) as never });
  }

  private headers(): Record<string, string> {
    return {
      Authorization: `Bearer ${this.token}`,
      'Content-Type': 'application/json',
      ...(this.deviceId ? { 'X-Device-Id': this.deviceId } : {}),
    };
  }

  /**
   * WatermelonDB synchronize() against GET/POST /api/v1/sync, set up as the README shows
   * (`migrationsEnabledAtVersion: 1`). Throws on any HTTP error (e.g. 409).
   * `losePullResponse`: the server answers the pull, but the answer never reaches the app
   * (network drop, app killed): the pull throws after the server has sent its response.
   * `afterPullResponse`: runs once the pull's answer has arrived, before WatermelonDB applies it
   * (the user editing while a pull downloads). `beforePush`: runs after the pull was applied and
   * the local changes were read, before the push is sent (another phone's sync landing in between,
   * as it can on a slow network; or the user editing while the push is on the way: WatermelonDB
   * keeps a record changed since it was read as unsynced). `losePushResponse`: the server applies the
   * push, but its answer never arrives (the app keeps its changes as unpushed).
   */
  async sync(
    extra: {
      migrationsEnabledAtVersion?: number;
      losePullResponse?: boolean;
      losePushResponse?: boolean;
      afterPullResponse?: () => Promise<void>;
      beforePush?: () => Promise<void>;
    } = {},
  ): Promise<void> {
    const { baseUrl } = this.options;
    const base = (request: SyncRequest) => (typeof baseUrl === 'string' ? baseUrl : baseUrl(request));
    await synchronize({
      database: this.database,
      migrationsEnabledAtVersion: extra.migrationsEnabledAtVersion ?? 1,
      pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
        this.pulls++;
        const params = new URLSearchParams({
          last_pulled_at: String(lastPulledAt ?? 0),
          schema_version: String(schemaVersion),
          migration: JSON.stringify(migration ?? null),
        });
        const response = await fetch(`${base('pull')}/api/v1/sync?${params}`, { headers: this.headers() });
        if (!response.ok) throw new SyncHttpError(response.status, await response.text());
        // Read as the README's turbo comment does (`syncJson: await response.text()`), then parsed
        // as `response.json()` would: the text is the very body this sync applies.
        this.lastPullText = await response.text();
        const body = JSON.parse(this.lastPullText) as { changes: Record<string, unknown> };
        this.lastPull = body;
        if (extra.losePullResponse) throw new LostResponseError();
        await extra.afterPullResponse?.();
        return body as never;
      },
      pushChanges: async ({ changes, lastPulledAt }) => {
        await extra.beforePush?.();
        this.pushes++;
        const response = await fetch(`${base('push')}/api/v1/sync?last_pulled_at=${lastPulledAt}`, {
          method: 'POST',
          headers: this.headers(),
          body: JSON.stringify({ changes }),
        });
        if (!response.ok) throw new SyncHttpError(response.status, await response.text());
        if (extra.losePushResponse) throw new LostResponseError();
      },
    });
  }

  /** WatermelonDB's `hasUnsyncedChanges()`: local changes not pushed yet (what an app checks before the user joins another family). */
  hasUnsyncedChanges(): Promise<boolean> {
    return hasUnsyncedChanges({ database: this.database });
  }

  /** Syncs until a push is not refused with 409 (another device pushed in between). */
  async syncUntilClean(maxAttempts = 50): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sync();
        return attempt;
      } catch (error) {
        if (!(error instanceof SyncHttpError && error.status === 409) || attempt >= maxAttempts) throw error;
      }
    }
  }

  /** The body of the last pull this device received (or lost). */
  lastPull: { changes: Record<string, unknown>; experimentalStrategy?: string } | null = null;
  /** The same body as the text that came over the wire (what a turbo first sync hands to WatermelonDB as `syncJson`). */
  lastPullText: string | null = null;

  async create(table: string, values: Record<string, unknown>): Promise<string> {
    let id = '';
    await this.database.write(async () => {
      const record = await this.database.get(table).create((r: ModelType) => {
        const now = Date.now();
        setRaw(r, { created_at: now, updated_at: now, ...(this.familyId ? { family_id: this.familyId } : {}), ...values });
      });
      id = record.id;
    });
    return id;
  }

  /** Creates a record with a chosen id (as an app's "undo delete" that re-creates the record it just deleted). */
  async createWithId(table: string, id: string, values: Record<string, unknown>): Promise<void> {
    const now = Date.now();
    await this.database.write(async () => {
      const collection = this.database.get(table) as unknown as { prepareCreateFromDirtyRaw(raw: Record<string, unknown>): ModelType };
      const record = collection.prepareCreateFromDirtyRaw({ created_at: now, updated_at: now, ...(this.familyId ? { family_id: this.familyId } : {}), ...values, id });
      await this.database.batch(record);
    });
  }

  /**
   * The same phone after an app update: its stored data opened with a newer schema (and the
   * migrations to it), as WatermelonDB does on launch. The in-memory Loki store is saved and
   * handed to a new adapter, which migrates it.
   */
  async upgrade(schema: AppSchema, migrations: SchemaMigrations): Promise<Device> {
    const adapter = this.database.adapter as unknown as { underlyingAdapter: { _driver: { loki: LokiLike } } };
    const loki = adapter.underlyingAdapter._driver.loki;
    await new Promise<void>((resolve, reject) => loki.saveDatabase((error?: unknown) => (error ? reject(error) : resolve())));
    loki.close();
    return new Device({ ...this.options, deviceId: this.deviceId, token: this.token, familyId: this.familyId, schema, migrations, dbName: this.dbName, lokiStore: loki.persistenceAdapter });
  }

  async update(table: string, id: string, values: Record<string, unknown>): Promise<void> {
    await this.database.write(async () => {
      const record = await this.database.get(table).find(id);
      await record.update((r: ModelType) => setRaw(r, { updated_at: Date.now(), ...values }));
    });
  }

  /** Removes a record from this phone only (never synced), like `record.destroyPermanently()` in the app. */
  async purge(table: string, id: string): Promise<void> {
    await this.database.write(async () => {
      const record = await this.database.get(table).find(id);
      await record.destroyPermanently();
    });
  }

  /** Marks as deleted (synced as a deletion), like `record.markAsDeleted()` in the app. */
  async remove(table: string, id: string): Promise<void> {
    await this.database.write(async () => {
      const record = await this.database.get(table).find(id);
      await record.markAsDeleted();
    });
  }

  async find(table: string, id: string): Promise<Raw | null> {
    const rows = await this.database.get(table).query(Q.where('id', id)).fetch();
    return rows.length ? clean(rows[0]._raw as unknown as Raw) : null;
  }

  /** Every live record of a table, without WatermelonDB's own bookkeeping fields, sorted by id. */
  async all(table: string): Promise<Raw[]> {
    const rows = await this.database.get(table).query().fetch();
    return rows.map((r) => clean(r._raw as unknown as Raw)).sort((a, b) => a.id.localeCompare(b.id));
  }

  async snapshot(tables: readonly string[] = this.tables): Promise<Record<string, Raw[]>> {
    const out: Record<string, Raw[]> = {};
    for (const t of tables) out[t] = await this.all(t);
    return out;
  }
}

interface LokiLike {
  saveDatabase(callback: (error?: unknown) => void): void;
  close(): void;
  persistenceAdapter: unknown;
}

/** Thrown by a pull whose response was "lost" (see Device.sync). */
export class LostResponseError extends Error {
  constructor() {
    super('the response was lost on the way to the app');
  }
}

export class SyncHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`sync HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

function setRaw(record: ModelType, values: Record<string, unknown>): void {
  const r = record as unknown as { _setRaw(k: string, v: unknown): void };
  for (const [k, v] of Object.entries(values)) r._setRaw(k, v);
}

function clean(raw: Raw): Raw {
  const { _status: _s, _changed: _c, ...rest } = raw as Raw & { _status?: unknown; _changed?: unknown };
  return rest as Raw;
}
