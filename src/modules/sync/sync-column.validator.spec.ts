import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { InvalidRequestError } from '../../common/errors/invalid-request.js';
import { createValidationPipe } from '../../common/http/validation.js';
import { UploadDocumentFieldsDto } from '../documents/dto/upload-document-fields.dto.js';
import { UpdateFamilyDto } from '../families/dto/update-family.dto.js';
import { openApiLimits, SyncColumn, syncColumnProblem, syncColumnSpec } from './sync-column.validator.js';
import { isJsonColumn, SYNC_TABLES, type ColumnSpec, type SyncTableName } from './sync-schema.js';
import { Invalid, normalizeValue } from './sync-validator.js';

/** What the ValidationPipe of every JSON route does with a body: the 400's details.fields, or the DTO. */
async function viaPipe<T>(metatype: new () => T, body: unknown): Promise<{ dto?: T; fields?: unknown }> {
  try {
    return { dto: (await createValidationPipe().transform(body, { type: 'body', metatype })) as T };
  } catch (error) {
    if (error instanceof InvalidRequestError) return { fields: error.fields };
    throw error;
  }
}

/** A one-field class decorated for `table.column`, as a DTO would be. */
function dtoOf(table: SyncTableName, column: string): new () => { v?: unknown } {
  class Dto {
    v?: unknown;
  }
  SyncColumn(table, column)(Dto.prototype, 'v');
  return Dto;
}

const hearts = (n: number) => '❤️'.repeat(n); // U+2764 U+FE0F: 2 code points each

describe('@SyncColumn', () => {
  describe('the reproductions', () => {
    it('families.notes counts code points as sync does: 20,000 ❤️ (40,000 code points) is refused, naming notes', async () => {
      const { fields } = await viaPipe(UpdateFamilyDto, { notes: hearts(20_000) });
      expect(fields).toEqual([{ field: 'notes', errors: ['notes must be at most 20000 characters'] }]);
      // The boundary: 20,000 code points, whatever their UTF-16 length (astral ones are 2 units each).
      for (const notes of [hearts(10_000), '😀'.repeat(20_000), 'x'.repeat(20_000)]) {
        expect(await viaPipe(UpdateFamilyDto, { notes })).toEqual({ dto: expect.objectContaining({ notes }) });
      }
      expect((await viaPipe(UpdateFamilyDto, { notes: `${hearts(10_000)}x` })).fields).toEqual([
        { field: 'notes', errors: ['notes must be at most 20000 characters'] },
      ]);
    });

    it('documents.name must not be blank, as sync requires', () => {
      for (const name of ['', '   ', '\t\n']) {
        const errors = validateSync(plainToInstance(UploadDocumentFieldsDto, { name, category: 'imaging' }));
        expect(errors.map((e) => [e.property, Object.values(e.constraints ?? {})])).toEqual([['name', ['name must not be empty']]]);
      }
      expect(validateSync(plainToInstance(UploadDocumentFieldsDto, { name: ' CBC ', category: 'imaging' }))).toEqual([]);
    });

    it('patient_weight_kg has sync’s exclusive bounds (0, 500): 0.005 and 499.995 pass, 0 and 500 do not', async () => {
      for (const w of [0.005, 499.995, 24.5]) expect((await viaPipe(UpdateFamilyDto, { patient_weight_kg: w })).dto).toMatchObject({ patient_weight_kg: w });
      expect((await viaPipe(UpdateFamilyDto, { patient_weight_kg: 0 })).fields).toEqual([
        { field: 'patient_weight_kg', errors: ['patient_weight_kg must be greater than 0'] },
      ]);
      expect((await viaPipe(UpdateFamilyDto, { patient_weight_kg: 500 })).fields).toEqual([
        { field: 'patient_weight_kg', errors: ['patient_weight_kg must be less than 500'] },
      ]);
    });
  });

  it('reports every bad field of a body, each under its own name with sync’s message', async () => {
    const { fields } = await viaPipe(UpdateFamilyDto, { patient_name: 42, patient_birth_date: 1.5, patient_blood_group: 'Z', notes: 'a\u0000b' });
    expect(fields).toEqual([
      { field: 'patient_name', errors: ['patient_name must be a string'] },
      { field: 'patient_birth_date', errors: ['patient_birth_date must be a timestamp in ms (integer)'] },
      { field: 'patient_blood_group', errors: ['patient_blood_group must be one of O+, O-, A+, A-, B+, B-, AB+, AB-'] },
      { field: 'notes', errors: ['notes must not contain NUL characters'] },
    ]);
  });

  it('leaves absent fields absent, lets null clear an optional column, and stores what sync would (an unset enum is null)', async () => {
    expect((await viaPipe(UpdateFamilyDto, {})).dto).toEqual({});
    expect((await viaPipe(UpdateFamilyDto, { notes: null, patient_weight_kg: null })).dto).toEqual({ notes: null, patient_weight_kg: null });
    expect((await viaPipe(UpdateFamilyDto, { patient_blood_group: '' })).dto).toEqual({ patient_blood_group: null });
    // A required column refuses null and '' like a push does.
    const errors = validateSync(plainToInstance(UploadDocumentFieldsDto, { category: '' }));
    expect(errors.map((e) => Object.values(e.constraints ?? {}))).toEqual([[expect.stringMatching(/^category must be one of lab_result, /)]]);
    expect(validateSync(plainToInstance(dtoOf('documents', 'name'), { v: null })).map((e) => e.constraints)).toEqual([{ syncColumn: 'v must not be null' }]);
  });

  it('does not convert types a push would refuse (a number is not a string)', () => {
    const errors = validateSync(plainToInstance(UploadDocumentFieldsDto, { name: 42 }));
    expect(errors.map((e) => e.constraints)).toEqual([{ syncColumn: 'name must be a string' }]);
  });

  it('agrees with the push validator on every writable scalar column of every synced table, value for value', () => {
    const samples: unknown[] = [
      undefined, null, '', '   ', 'x', ' padded ', 'A+', 'imaging', 'daily', '00000000-0000-4000-8000-000000000000',
      '00000000-0000-4000-8000-00000000000A', 'nul\u0000', 'lone \ud800', hearts(100), hearts(151), 'é'.repeat(201),
      0, -1, 1, 1.5, 0.005, 499.995, 500, 4999.999, 5000, 3660, 3661, -2_208_988_800_001, 8_640_000_000_000_001,
      Number.MAX_SAFE_INTEGER, Number.NaN, Number.POSITIVE_INFINITY, true, false, '1', {}, [], ['x'],
    ];
    let checked = 0;
    for (const table of SYNC_TABLES) {
      for (const spec of table.columns.filter((c) => !c.readOnly && !isJsonColumn(c))) {
        const Dto = dtoOf(table.name, spec.name);
        for (const value of samples) {
          const dto = plainToInstance(Dto, value === undefined ? {} : { v: value });
          const messages = validateSync(dto).flatMap((e) => Object.values(e.constraints ?? {}));
          const sync = value === undefined ? undefined : normalizeValue(spec, value);
          const expected = sync instanceof Invalid ? [`v ${sync.error}`] : [];
          expect({ column: `${table.name}.${spec.name}`, value, messages }).toEqual({ column: `${table.name}.${spec.name}`, value, messages: expected });
          if (!(sync instanceof Invalid)) expect(dto.v).toEqual(sync ?? (value === undefined ? undefined : null));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('refuses to decorate a column sync does not have, cannot write, or stores as JSON', () => {
    expect(() => syncColumnSpec('families', 'nope')).toThrow('sync-schema has no column families.nope');
    expect(() => syncColumnSpec('families', 'invite_code')).toThrow(/read-only/);
    expect(() => SyncColumn('transfusions', 'indicators_before')).toThrow(/JSON column/);
  });

  it('syncColumnProblem is the push validator’s message', () => {
    const notes = syncColumnSpec('families', 'notes');
    expect(syncColumnProblem(notes, hearts(20_000))).toBe('must be at most 20000 characters');
    expect(syncColumnProblem(notes, 'fine')).toBeUndefined();
  });

  it('derives the OpenAPI limits from the same spec', () => {
    const spec = (t: SyncTableName, c: string): ColumnSpec => syncColumnSpec(t, c);
    expect(openApiLimits(spec('families', 'notes'))).toEqual({ maxLength: 20_000 });
    expect(openApiLimits(spec('documents', 'name'))).toEqual({ maxLength: 300, minLength: 1 });
    expect(openApiLimits(spec('families', 'patient_weight_kg'))).toEqual({ minimum: 0, exclusiveMinimum: true, maximum: 500, exclusiveMaximum: true });
    expect(openApiLimits(spec('families', 'patient_birth_date'))).toEqual({ type: 'integer', format: 'int64', minimum: -2_208_988_800_000, maximum: 8_640_000_000_000_000 });
    expect(openApiLimits(spec('documents', 'category'))).toEqual({ enum: ['lab_result', 'discharge_summary', 'prescription', 'imaging', 'other'] });
    // An optional enum takes '' and null too (both clear it): the document must say so (found by review).
    expect(openApiLimits(spec('families', 'patient_blood_group'))).toEqual({ enum: ['O+', 'O-', 'A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', '', null], nullable: true });
  });

  it.each([
    ['families', 'patient_blood_group'],
    ['documents', 'category'],
  ] as const)('%s.%s: every documented enum value is accepted, and nothing else', (table, column) => {
    const spec = syncColumnSpec(table, column);
    const documented = openApiLimits(spec).enum as unknown[];
    expect(documented.filter((value) => syncColumnProblem(spec, value) !== undefined)).toEqual([]);
    for (const other of ['', null, 'other-value']) {
      if (!documented.includes(other)) expect(syncColumnProblem(spec, other)).toBeDefined();
    }
  });
});
