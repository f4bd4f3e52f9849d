/**
 * The codes a socket reports when its peer cannot be reached or dropped the connection (refused,
 * reset, timed out, unreachable, unknown host, broken pipe): for the database's connections
 * (postgres-errors.ts) and the S3 client's (s3-file-storage.ts) alike.
 */
export const UNREACHABLE_ERRNO: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
