import { InitialSchema1764090000000 } from '../../migrations/1764090000000-InitialSchema.js';
import { Files1764300000000 } from '../../migrations/1764300000000-Files.js';
import { SyncDevices1764400000000 } from '../../migrations/1764400000000-SyncDevices.js';
import { DemoSeededFamilies1764600000000 } from '../../migrations/1764600000000-DemoSeededFamilies.js';
import { SyncDeviceSnapshots1764700000000 } from '../../migrations/1764700000000-SyncDeviceSnapshots.js';
import { SyncRevivedRecords1764710000000 } from '../../migrations/1764710000000-SyncRevivedRecords.js';
import { NormalizeEmails1764750000000 } from '../../migrations/1764750000000-NormalizeEmails.js';
import { FamiliesDeletedAt1764750100000 } from '../../migrations/1764750100000-FamiliesDeletedAt.js';
import { UsersTokensValidAfter1764750200000 } from '../../migrations/1764750200000-UsersTokensValidAfter.js';
import { RefreshTokenRetry1764750300000 } from '../../migrations/1764750300000-RefreshTokenRetry.js';
import { FamiliesInviteCodeNullable1764750400000 } from '../../migrations/1764750400000-FamiliesInviteCodeNullable.js';
import { SyncRevivalSpans1764760000000 } from '../../migrations/1764760000000-SyncRevivalSpans.js';
import { SyncJsonColumnsCompact1764760100000 } from '../../migrations/1764760100000-SyncJsonColumnsCompact.js';
import { SyncHeldInEarlierLife1764770000000 } from '../../migrations/1764770000000-SyncHeldInEarlierLife.js';
import { RefreshTokenAccessUsed1764780100000 } from '../../migrations/1764780100000-RefreshTokenAccessUsed.js';
import { SyncCursors1764780200000 } from '../../migrations/1764780200000-SyncCursors.js';
import { SyncLastPushes1764790000000 } from '../../migrations/1764790000000-SyncLastPushes.js';
import { AuthRateLimits1764800000000 } from '../../migrations/1764800000000-AuthRateLimits.js';
import { SyncLastPushesOutliveAccounts1764810000000 } from '../../migrations/1764810000000-SyncLastPushesOutliveAccounts.js';
import { PasswordResetTokens1764820000000 } from '../../migrations/1764820000000-PasswordResetTokens.js';
import { RefreshTokensExpiresAt1764830000000 } from '../../migrations/1764830000000-RefreshTokensExpiresAt.js';
import { FamiliesRecordCount1764840000000 } from '../../migrations/1764840000000-FamiliesRecordCount.js';
import { SyncHeldInEarlierLifeByInstallation1764850000000 } from '../../migrations/1764850000000-SyncHeldInEarlierLifeByInstallation.js';
import { FilesCreatedByIndex1764860000000 } from '../../migrations/1764860000000-FilesCreatedByIndex.js';
import { FoldDottedIInEmails1764870000000 } from '../../migrations/1764870000000-FoldDottedIInEmails.js';
import { BloodTestResultsSameFamily1764880000000 } from '../../migrations/1764880000000-BloodTestResultsSameFamily.js';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the same list
 * works from the compiled app, the CLI and the TypeScript test run.
 */
export const MIGRATIONS = [InitialSchema1764090000000, Files1764300000000, SyncDevices1764400000000, DemoSeededFamilies1764600000000, SyncDeviceSnapshots1764700000000, SyncRevivedRecords1764710000000, NormalizeEmails1764750000000, FamiliesDeletedAt1764750100000, UsersTokensValidAfter1764750200000, RefreshTokenRetry1764750300000, FamiliesInviteCodeNullable1764750400000, SyncRevivalSpans1764760000000, SyncJsonColumnsCompact1764760100000, SyncHeldInEarlierLife1764770000000, RefreshTokenAccessUsed1764780100000, SyncCursors1764780200000, SyncLastPushes1764790000000, AuthRateLimits1764800000000, SyncLastPushesOutliveAccounts1764810000000, PasswordResetTokens1764820000000, RefreshTokensExpiresAt1764830000000, FamiliesRecordCount1764840000000, SyncHeldInEarlierLifeByInstallation1764850000000, FilesCreatedByIndex1764860000000, FoldDottedIInEmails1764870000000, BloodTestResultsSameFamily1764880000000];
