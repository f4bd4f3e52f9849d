/**
 * Bounds of the cleanup periods (FILE_CLEANUP_GRACE_HOURS, DOCUMENT_RETENTION_DAYS and the
 * files:cleanup overrides): 10 and 100 years. Beyond, the cutoff dates stop making sense
 * (and far enough out, no longer fit a timestamp), so a typo gets a clear message instead.
 * A leaf module: the environment validation reads it too.
 */
export const MAX_GRACE_HOURS = 87_600;
export const MAX_RETENTION_DAYS = 36_500;
