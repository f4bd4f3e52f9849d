import type { Device, Raw } from './device.js';

/** Who wrote a value: a phone's index in the test, the server (rows that exist before the phones edit), or a REST call (PATCH, upload). */
type Writer = number | 'server' | 'rest';

interface Entry {
  table: string;
  createdBy: Writer;
  /** Per column, every value written, in the order each phone wrote them (creation included). */
  writes: Map<string, Array<{ by: Writer; value: unknown; creation: boolean }>>;
  deletedBy: number[];
  /** Created again with its id after a deletion (an undo): whether it ends live depends on timing (README, Record ids). */
  recreated: boolean;
}

/**
 * What the phones of a randomized run wrote, to check that no edit was lost. Phones agreeing with
 * the server does not show it: a server that drops a pushed column still stamps the row, and the
 * pushing phone's next pull (its cursor predates the push) brings the row back as the server has
 * it, so every phone agrees on the loss.
 *
 * Each operation goes through the ledger, which performs it on the phone and records what the
 * phone holds right after (so WatermelonDB's defaults and the `updated_at` set by Device count as
 * written). Conflict resolution is not modelled: a column two phones edited may end with either's
 * value; `lostEdits` checks only what holds whatever the order of the syncs.
 */
export class WriteLedger {
  private readonly records = new Map<string, Entry>();

  /** Rows the server holds before the phones edit (the family row): their values count as written by the server. */
  existing(table: string, rows: Raw[]): void {
    for (const row of rows) this.record(table, row.id, 'server', row, { creation: true });
  }

  async create(phone: Device, by: number, table: string, values: Record<string, unknown>): Promise<string> {
    const id = await phone.create(table, values);
    this.record(table, id, by, (await phone.find(table, id))!, { creation: true });
    return id;
  }

  /**
   * A write made outside the phones (PATCH /families/me, an upload with document fields): the
   * columns it wrote, as its answer gives them, recorded like a phone's write (`creation`: it made
   * the record). REST calls are made one after another, so their order is their server order.
   */
  rest(table: string, id: string, written: Record<string, unknown>, { creation }: { creation: boolean }): void {
    this.record(table, id, 'rest', { id, ...written }, { creation });
  }

  /** An undo: the record created again with its id. */
  async createWithId(phone: Device, by: number, table: string, id: string, values: Record<string, unknown>): Promise<void> {
    await phone.createWithId(table, id, values);
    this.record(table, id, by, (await phone.find(table, id))!, { creation: true });
    this.entry(table, id).recreated = true;
  }

  /** Writes `values` and the `updated_at` that Device.update sets. */
  async update(phone: Device, by: number, table: string, id: string, values: Record<string, unknown>): Promise<void> {
    await phone.update(table, id, values);
    const held = (await phone.find(table, id))!;
    const written = Object.fromEntries([...Object.keys(values), 'updated_at'].map((column) => [column, held[column]]));
    this.record(table, id, by, { id, ...written }, { creation: false });
  }

  async remove(phone: Device, by: number, table: string, id: string): Promise<void> {
    await phone.remove(table, id);
    this.entry(table, id).deletedBy.push(by);
  }

  wasRecreated(id: string): boolean {
    return this.records.get(id)?.recreated ?? false;
  }

  /**
   * Everything in the server's final state (`server`: a fresh phone's first sync) that shows a
   * lost or invented write, one line each (empty: none):
   * - a record some phone created, that no phone deleted (nor its blood test), is live;
   * - a record some phone deleted (or whose blood test some phone deleted) is not live, unless
   *   it (or its test) was created again with its id;
   * - a column of a live record that no phone edited holds its creation value, and one that exactly
   *   one phone edited holds that phone's last value (a phone edits only a record it holds, so
   *   any edit comes after the creation; and a creator whose creation push went unacknowledged
   *   pulls, and takes the others' edits, before it pushes the creation again);
   * - every live record was created by a phone (or existed before), and each of its values is one
   *   somebody wrote in that column of that record.
   */
  lostEdits(server: Record<string, Raw[]>): string[] {
    const live = new Map(Object.entries(server).flatMap(([table, rows]) => rows.map((row): [string, Raw] => [`${table} ${row.id}`, row])));
    const problems: string[] = [];
    for (const [id, entry] of this.records) {
      const name = `${entry.table} ${id}`;
      const row = live.get(name);
      const { deletion, revivable } = this.fate(entry);
      if (deletion) {
        if (row && !revivable) problems.push(`${name}: ${deletion}, yet live on the server`);
        continue;
      }
      if (!row) {
        problems.push(`${name}: created by ${who(entry.createdBy)}, deleted by nobody, missing on the server`);
        continue;
      }
      for (const [column, writes] of entry.writes) {
        const edits = writes.filter((w) => !w.creation);
        if (new Set(edits.map((w) => w.by)).size > 1) continue;
        const last = writes.at(-1)!;
        if (row[column] !== last.value) {
          const by = last.creation ? `created by ${who(last.by)} as ${show(last.value)}, edited by nobody` : `edited by ${who(last.by)} only, last to ${show(last.value)}`;
          problems.push(`${name} ${column}: ${by}; the server has ${show(row[column])}`);
        }
      }
    }
    for (const [name, row] of live) {
      const entry = this.records.get(row.id);
      if (!entry) {
        problems.push(`${name}: live on the server, created by no phone`);
        continue;
      }
      for (const [column, value] of Object.entries(row)) {
        if (column === 'id' || entry.writes.get(column)?.some((w) => w.value === value)) continue;
        problems.push(`${name} ${column}: the server has ${show(value)}, which nobody wrote there (written: ${(entry.writes.get(column) ?? []).map((w) => show(w.value)).join(', ')})`);
      }
    }
    return problems;
  }

  /** Why a record must be gone at the end (null: it must not), and whether an undo may have brought it back. */
  private fate(entry: Entry): { deletion: string | null; revivable: boolean } {
    if (entry.deletedBy.length) return { deletion: `deleted by ${entry.deletedBy.map(who).join(', ')}`, revivable: entry.recreated };
    if (entry.table === 'blood_test_results') {
      // A test's deletion takes its results along (or, for a result pushed after it, a 422 that the phone settles by purging its copy).
      const test = this.records.get(entry.writes.get('blood_test_id')![0].value as string);
      if (test?.deletedBy.length) return { deletion: `its blood test deleted by ${test.deletedBy.map(who).join(', ')}`, revivable: entry.recreated || test.recreated };
    }
    return { deletion: null, revivable: false };
  }

  private record(table: string, id: string, by: Writer, raw: Raw, { creation }: { creation: boolean }): void {
    if (creation && !this.records.has(id)) this.records.set(id, { table, createdBy: by, writes: new Map(), deletedBy: [], recreated: false });
    const entry = this.entry(table, id);
    for (const [column, value] of Object.entries(raw)) {
      if (column === 'id') continue;
      const writes = entry.writes.get(column) ?? [];
      writes.push({ by, value, creation });
      entry.writes.set(column, writes);
    }
  }

  private entry(table: string, id: string): Entry {
    const entry = this.records.get(id);
    if (!entry || entry.table !== table) throw new Error(`ledger: ${table} ${id} was never created through the ledger`);
    return entry;
  }
}

const who = (by: Writer) => (by === 'server' ? 'the server' : by === 'rest' ? 'a REST call' : `phone ${by}`);
const show = (value: unknown) => JSON.stringify(value) ?? String(value);
