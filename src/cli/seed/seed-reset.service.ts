import { Inject, Injectable, Logger } from '@nestjs/common';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { FamilyVersionService } from '../../common/versioning/family-version.service.js';
import { FILE_STORAGE, type FileStorage } from '../../modules/documents/storage/file-storage.js';
import { FamiliesService } from '../../modules/families/families.service.js';
import { CliError } from '../cli-error.js';
import { assertResetAllowed } from './seed-options.js';
import { isSeedAccount, SeedRepository, type SeedOwnedAccount } from './seed.repository.js';

export interface ResetResult {
  users: number;
  families: number;
  /** Other people who had joined a demo family: removed from it (and signed out) like any removed member. */
  membersRemoved: number;
  /** Stored files whose deletion failed (logged as warnings; their rows are gone). */
  filesLeft: number;
}

/**
 * `seed --reset`: deletes the demo accounts and families a previous seed made
 * with these emails — and nothing else. Refused unless NODE_ENV is explicitly
 * development or test, and refused as a whole (nothing deleted) when one of
 * the emails belongs to an account seed did not create.
 */
@Injectable()
export class SeedResetService {
  private readonly logger = new Logger(SeedResetService.name);

  constructor(
    private readonly repository: SeedRepository,
    private readonly families: FamiliesService,
    private readonly versions: FamilyVersionService,
    private readonly familyContext: FamilyContext,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
  ) {}

  async reset(emails: string[], rawNodeEnv: string | undefined): Promise<ResetResult> {
    assertResetAllowed(rawNodeEnv);
    const accounts = await this.repository.accounts(emails);
    const foreign = accounts.find((a) => !isSeedAccount(a));
    if (foreign) {
      throw new CliError(`--reset: ${foreign.email} is not an account seed created (nothing was deleted); --reset only deletes demo families made by seed`);
    }
    const result: ResetResult = { users: 0, families: 0, membersRemoved: 0, filesLeft: 0 };
    for (const account of accounts.filter(isSeedAccount)) {
      const { membersRemoved, filesLeft } = await this.resetFamily(account);
      result.users++;
      result.families++;
      result.membersRemoved += membersRemoved;
      result.filesLeft += filesLeft;
    }
    return result;
  }

  private async resetFamily(account: SeedOwnedAccount): Promise<{ membersRemoved: number; filesLeft: number }> {
    const { familyId } = account;
    // Anyone who joined the demo family leaves it the way a removed member does
    // (refresh tokens revoked, open event streams closed): the app's own rule, acting as the owner.
    const scope = { userId: account.id, familyId, role: 'owner' as const, joinedVersion: account.familyJoinedVersion };
    if (account.role !== 'owner') {
      // The demo account handed the family on (POST /families/me/owner): the owner hands it back.
      const owner = await this.families.ownerScope(familyId);
      if (owner) await this.familyContext.run(owner, () => this.families.transferOwnership(account.id));
    }
    const others = await this.repository.otherMembers(familyId, account.id);
    for (const memberId of others) await this.familyContext.run(scope, () => this.families.removeMember(memberId));

    const { result: keys } = await this.versions.writeForFamily(familyId, async ({ manager }) => {
      // Joins take this lock too: a member who joined after the removals above is seen here.
      if ((await this.repository.otherMembers(familyId, account.id, manager)).length) {
        throw new CliError(`--reset: someone joined the family of ${account.email} during the reset; run it again`);
      }
      await this.versions.notifyMembershipChange(manager, account.id);
      return this.repository.deleteSeededFamily(manager, account.id, familyId);
    });

    let filesLeft = 0;
    for (const key of keys) {
      await this.storage.delete(key).catch((error: unknown) => {
        filesLeft++;
        this.logger.warn(`could not delete stored file ${key}: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    return { membersRemoved: others.length, filesLeft };
  }
}
