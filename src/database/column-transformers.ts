import type { ValueTransformer } from 'typeorm';

/** bigint columns come back from `pg` as strings; our values (ms, versions) fit in a double exactly. */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null || value === undefined ? value : Number(value)),
};
