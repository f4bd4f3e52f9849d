/**
 * Bounds of the cleanup periods (FILE_CLEANUP_GRACE_HOURS, DOCUMENT_RETENTION_DAYS and the
 * files:cleanup overrides): 10 and 100 years. Beyond, the cutoff dates stop making sense
 * (and far enough out, no longer fit a timestamp), so a typo gets a clear message instead.
 * A leaf module: the environment validation reads it too.
 */
export const MAX_GRACE_HOURS = 87_600;
export const MAX_RETENTION_DAYS = 36_500;

/**
 * An object without a row is removed only once it is older than the grace period AND this: an
 * upload stores its object, then inserts its row a moment later, and an S3 multipart object is
 * dated by the start of its upload (at most REQUEST_TIMEOUT_SECONDS earlier). With
 * `--grace-hours 0` an object being recorded right now must still not look like debris.
 */
export const ORPHAN_MIN_AGE_HOURS = 1;

/** The longest REQUEST_TIMEOUT_SECONDS: 10 minutes short of ORPHAN_MIN_AGE_HOURS. */
export const MAX_REQUEST_TIMEOUT_SECONDS = ORPHAN_MIN_AGE_HOURS * 3600 - 600;

/**
 * The longest S3_TIMEOUT_SECONDS. After an upload's last byte arrived, its last part, the
 * CompleteMultipartUpload and the HeadObject that follows may each wait that long 3 times (the
 * SDK's attempts) before the row is inserted: 9 × 60 s stays inside the 10 minutes above.
 */
export const MAX_S3_TIMEOUT_SECONDS = 60;
