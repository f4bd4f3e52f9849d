import type { VersionedWrite } from '../../common/versioning/family-version.service.js';

/**
 * What every write of a synced row is stamped with: the family and version of the
 * FamilyVersionService write it runs in, who wrote it, from which device, and when (ms).
 * One type for the sync push and for uploads that write a `documents` row.
 */
export interface WriteStamp {
  familyId: string;
  version: number;
  userId: string;
  /** The writing device (X-Device-Id), or null for writes no device holds yet (uploads, CLI without one). */
  deviceId: string | null;
  now: number;
}

/** The stamp of a write: family and version always from the write handle, never from the request. */
export function writeStamp(write: Pick<VersionedWrite, 'familyId' | 'version'>, userId: string, deviceId: string | null): WriteStamp {
  return { familyId: write.familyId, version: write.version, userId, deviceId, now: Date.now() };
}
