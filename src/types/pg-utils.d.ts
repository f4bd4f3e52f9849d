/** node-postgres's own parameter conversion (pg/lib/utils.js), which its Query applies to every bound value. */
declare module 'pg/lib/utils.js' {
  const utils: {
    /** A JS value as PostgreSQL's text (or binary, for a Buffer) parameter: arrays as array literals, dates, objects as JSON; null/undefined as NULL. */
    prepareValue(value: unknown): string | Buffer | null;
  };
  export default utils;
}
