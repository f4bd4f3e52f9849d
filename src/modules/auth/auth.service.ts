import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { membershipChanged } from '../../common/family-scope/membership.js';
import { isUniqueViolation } from '../../common/postgres-errors.js';
import { FamilyVersionService } from '../../common/versioning/family-version.service.js';
import { FamilySummaryResponse, type FamilyResponse } from '../families/dto/family.response.js';
import type { TransferOwnershipDto } from '../families/dto/transfer-ownership.dto.js';
import { FamiliesService } from '../families/families.service.js';
import { FamilyMembershipService } from '../families/family-membership.service.js';
import { AuthResponse, MeResponse, TokenResponse, UserResponse } from './dto/auth.response.js';
import { ChangePasswordDto, LoginDto, RegisterDto } from './dto/auth.dto.js';
import { lockSignIns } from './refresh-token-revocation.js';
import { normalizeEmail } from './email.js';
import { UserEntity } from './entities/user.entity.js';
import { AuthErrors } from './auth.errors.js';
import { PasswordResetTokenRepository } from './password-reset-token.repository.js';
import { normalizePassword } from './password.js';
import { PasswordService } from './password.service.js';
import { TokenService } from './token.service.js';

@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly passwords: PasswordService,
    private readonly tokens: TokenService,
    private readonly families: FamiliesService,
    private readonly memberships: FamilyMembershipService,
    private readonly versions: FamilyVersionService,
    private readonly resetTokens: PasswordResetTokenRepository,
  ) {}

  /**
   * Creates the user with a new family (as owner), or in the family of `invite_code` (as member; as
   * owner of a family nobody is in, FamilyMembershipService.joinByInviteCode).
   * Each public method normalizes the email once: its callers are HTTP (whose DTO normalized it
   * already, to validate the stored form) and the admin CLI (as typed).
   * `onFamilyCreated` (admin CLI `seed`, marking its demo family): runs in the transaction that
   * creates the user with a new family, so the account never exists without what it writes.
   */
  async register(
    dto: RegisterDto,
    options: { onFamilyCreated?: (manager: EntityManager, familyId: string) => Promise<void> } = {},
  ): Promise<AuthResponse> {
    const email = normalizeEmail(dto.email);
    if (await this.userByEmail(email)) throw AuthErrors.emailTaken();
    const passwordHash = await this.passwords.hash(dto.password);
    // A name of spaces only is trimmed to nothing: no name, as when none is given ("" showed as a blank name).
    const base = { email, passwordHash, name: dto.name || null };
    try {
      const user = dto.invite_code
        ? await this.memberships.joinByInviteCode(dto.invite_code, (manager, familyId, version, role) =>
            this.insertUser(manager, { ...base, familyId, role, familyJoinedVersion: version }),
          )
        : await this.memberships.createWithOwner(async (manager, familyId, version) => {
            const owner = await this.insertUser(manager, { ...base, familyId, role: 'owner', familyJoinedVersion: version });
            await options.onFamilyCreated?.(manager, familyId);
            return owner;
          });
      return AuthResponse.from(await this.tokens.issue(user.id), user);
    } catch (error) {
      // Two registrations of one email racing past the look-up above.
      if (isUniqueViolation(error)) throw AuthErrors.emailTaken();
      throw error;
    }
  }

  /** Unknown email and wrong password answer alike (same status, message and time). */
  async login(dto: LoginDto): Promise<AuthResponse> {
    const user = await this.userByEmail(normalizeEmail(dto.email));
    const match = await this.passwords.match(user?.passwordHash, dto.password);
    if (!user || !match) throw AuthErrors.invalidCredentials();
    const rehash = match === 'as-typed' || this.passwords.needsRehash(user.passwordHash);
    const storedHash = rehash ? await this.rehash(user, dto.password) : user.passwordHash;
    return AuthResponse.from(await this.tokens.issue(user.id, storedHash), user);
  }

  /**
   * Replaces a hash made with other parameters than PASSWORD_HASH_*, or of the password as typed
   * before passwords were normalized (PasswordMatch `as-typed`), by one of the normalized password
   * at the configured cost (the password just verified). Only if the stored hash is still the one verified: a password reset
   * in between wins. A failure here does not fail the login (the old hash still works). Returns the
   * hash stored for the password just verified: the new one, or the old one if it was not replaced.
   * Not replaced because another login replaced it first (two phones signing in at once), the stored
   * hash is that login's, of this same password: it is returned when it verifies the password, or
   * TokenService.issue, finding the old hash gone, refused the right password with 401 (found by
   * review). A reset or change in between stored a hash the password does not verify: the old one is
   * returned, and the login is refused as before.
   */
  private async rehash(user: UserEntity, password: string): Promise<string> {
    try {
      const passwordHash = await this.passwords.hash(password);
      const { affected } = await this.users.update({ id: user.id, passwordHash: user.passwordHash }, { passwordHash });
      if (affected) return passwordHash;
      const stored = await this.users.findOne({ where: { id: user.id }, select: { id: true, passwordHash: true } });
      return stored && stored.passwordHash !== user.passwordHash && (await this.passwords.verify(stored.passwordHash, password))
        ? stored.passwordHash
        : user.passwordHash;
    } catch (error) {
      this.logger.warn(`could not rehash the password of user ${user.id}: ${error instanceof Error ? error.message : String(error)}`);
      return user.passwordHash;
    }
  }

  /**
   * Moves the caller into the family of `inviteCode` (from none, or from another family; the rules:
   * FamilyMembershipService.moveMember). Answers as GET /auth/me, with the user and the family as the
   * join left them (read in its transaction, not after its commit). `signInId`: the request's sign-in,
   * which must still be live when the join locks the user (401 otherwise, nothing moves).
   */
  async joinFamily(userId: string, inviteCode: string, signInId: string | null = null): Promise<MeResponse> {
    const joined = await this.memberships.moveMember(await this.requireUser(userId), inviteCode, signInId);
    return { user: UserResponse.from(joined.user), family: FamilySummaryResponse.from(joined.family) };
  }

  async me(userId: string): Promise<MeResponse> {
    const user = await this.requireUser(userId);
    const family = await this.families.summaryOf(user.familyId);
    // A removal that committed between the two reads replaced the family's invite code to keep the
    // removed member out: read the membership again, so they are never shown the new one.
    const again = await this.requireUser(userId);
    if (again.familyId !== user.familyId || again.familyJoinedVersion !== user.familyJoinedVersion) throw membershipChanged();
    return { user: UserResponse.from(user), family };
  }

  async refresh(refreshToken: string): Promise<TokenResponse> {
    return TokenResponse.from(await this.tokens.rotate(refreshToken));
  }

  /**
   * Revokes the sign-in of that refresh token: its access tokens are refused from the next request
   * on, and the "sync now" streams opened with them end. The user's other sign-ins are untouched.
   */
  async logout(refreshToken: string): Promise<void> {
    const signedOut = await this.tokens.revoke(refreshToken);
    if (signedOut) await this.versions.notifyMembershipChange(this.users.manager, signedOut.userId, signedOut.signInId);
  }

  /** Look-up by email as typed (also used by the admin CLI). */
  findByEmail(email: string): Promise<UserEntity | null> {
    return this.userByEmail(normalizeEmail(email));
  }

  /**
   * Sets a new password (admin CLI support work) and signs the user out everywhere, at once
   * (`replacePassword`).
   */
  async resetPassword(email: string, password: string): Promise<UserEntity> {
    const normalized = normalizeEmail(email);
    const user = await this.userByEmail(normalized);
    if (!user) throw AuthErrors.noSuchUser(normalized);
    const passwordHash = await this.passwords.hash(password);
    const replaced = await this.users.manager.transaction((manager) => this.replacePassword(manager, user.id, passwordHash));
    // Deleted since the look-up.
    if (!replaced) throw AuthErrors.noSuchUser(normalized);
    return user;
  }

  /**
   * The signed-in user changes their own password: every other sign-in ends at once, as with a reset
   * (`replacePassword`), and the caller gets a new sign-in in the same transaction — so the device
   * that changed the password stays signed in with the pair answered, while its old tokens are
   * refused like every other device's.
   */
  async changePassword(userId: string, dto: ChangePasswordDto): Promise<AuthResponse> {
    // Checked before the current password, from the request alone: checked after, a 422 would tell
    // whoever holds a stolen access token that their guess is the password, without changing it
    // (no sign-out to warn the owner).
    if (normalizePassword(dto.new_password) === normalizePassword(dto.current_password)) throw AuthErrors.passwordUnchanged();
    const user = await this.requireUser(userId);
    // argon2id against the stored hash, as a login: a right and a wrong password take the same time.
    if (!(await this.passwords.verify(user.passwordHash, dto.current_password))) throw AuthErrors.wrongCurrentPassword();
    const passwordHash = await this.passwords.hash(dto.new_password);
    const changed = await this.users.manager.transaction(async (manager) => {
      // Only if the hash just verified is still the stored one: a reset or another change that
      // committed meanwhile made `current_password` no longer current (like a login, see TokenService.issue).
      // So does a login's rehash to a new PASSWORD_HASH_* cost in between, rarely: a retry succeeds.
      if (!(await this.replacePassword(manager, userId, passwordHash, user.passwordHash))) return null;
      const tokens = await this.tokens.issueIn(manager, userId);
      return AuthResponse.from(tokens, await manager.findOneByOrFail(UserEntity, { id: userId }));
    });
    if (!changed) throw AuthErrors.wrongCurrentPassword();
    return changed;
  }

  /**
   * A reset by emailed token (PasswordResetService): `claim` takes the token for `userId` in this
   * transaction, then the password is replaced as by a reset (`replacePassword`: every sign-in ends)
   * and the caller gets a new sign-in, as with a change. The user's row is locked first, as every
   * path that changes a user's password or reset tokens does (PasswordResetTokenRepository), so a
   * second use of the token waits here and finds it used. null: no such user, or the token was not
   * taken (used, revoked, expired meanwhile); nothing changed.
   */
  async resetPasswordByToken(
    userId: string,
    passwordHash: string,
    claim: (manager: EntityManager) => Promise<boolean>,
  ): Promise<AuthResponse | null> {
    return this.users.manager.transaction(async (manager) => {
      const user = await manager.findOne(UserEntity, { where: { id: userId }, lock: { mode: 'for_no_key_update' } });
      if (!user || !(await claim(manager))) return null;
      await this.replacePassword(manager, userId, passwordHash);
      const tokens = await this.tokens.issueIn(manager, userId);
      return AuthResponse.from(tokens, user);
    });
  }

  /**
   * DELETE /auth/me: the caller deletes their own account, confirmed by their password (checked as a
   * login checks it; wrong: 401 INVALID_CREDENTIALS, nothing deleted). The row goes in one
   * transaction with their departure from their family (FamilyMembershipService.deleteMember: an owner with
   * other members refused, the family settled, the event streams ended); their refresh tokens go
   * with it (ON DELETE CASCADE), so every access token is refused from the next request on (the
   * guard finds no user). What they entered stays with the family: the records keep their id in
   * `created_by`/`updated_by` (server-only, never sent), files lose it (SET NULL), and the records
   * of their phones' last pushes stay (a shared tablet may repeat such a push: SyncPushService).
   */
  async deleteAccount(userId: string, password: string): Promise<void> {
    const user = await this.requireUser(userId);
    if (!(await this.passwords.verify(user.passwordHash, password))) throw AuthErrors.wrongCurrentPassword();
    // Only with the password just verified: a reset or change committed meanwhile made it stale.
    await this.removeAccount(user, { passwordHash: user.passwordHash });
  }

  /**
   * POST /families/me/owner: the owner hands the family on (FamiliesService.transferOwnership),
   * confirmed by their password, checked as a login checks it (wrong: 401 INVALID_CREDENTIALS,
   * nothing changes). The hand-over cannot be undone by the caller — the new owner may remove them —
   * so, like an account deletion, it takes the password, not only a signed-in phone: with the
   * owner's tokens alone (a copied refresh token) an intruder who joined with the invite code could
   * make their own account the owner and remove the parents for good (found by review).
   */
  async transferOwnership(userId: string, dto: TransferOwnershipDto): Promise<FamilyResponse> {
    return this.families.transferOwnership(dto.user_id, async () => {
      const user = await this.requireUser(userId);
      if (!(await this.passwords.verify(user.passwordHash, dto.password))) throw AuthErrors.wrongCurrentPassword();
      return user.passwordHash;
    });
  }

  /** Admin CLI (`user:delete`, a deletion asked of support): deletes the account as DELETE /auth/me does, without its password. */
  async deleteUser(email: string): Promise<UserEntity> {
    const normalized = normalizeEmail(email);
    const user = await this.userByEmail(normalized);
    if (!user) throw AuthErrors.noSuchUser(normalized);
    await this.removeAccount(user, {});
    return user;
  }

  /** Deletes the user's row with their departure from their family; `still`: only if the row still has these values. */
  private async removeAccount(user: UserEntity, still: Partial<Pick<UserEntity, 'passwordHash'>>): Promise<void> {
    await this.memberships.deleteMember(user, async (manager) => {
      // Under the sign-in lock, like every change of the user's sign-ins: a login or refresh in flight
      // commits its token first (and the cascade takes it), or waits and then finds no user.
      await lockSignIns(manager, user.id);
      const { affected } = await manager.delete(UserEntity, { id: user.id, ...still });
      if (!affected) throw AuthErrors.wrongCurrentPassword();
    });
  }

  /**
   * Stores a new password hash and signs the user out everywhere, at once, in the caller's
   * transaction: every refresh token is revoked, access tokens issued until now are refused from the
   * next request on (their sign-ins are revoked; `tokens_valid_after` refuses tokens without `sid`,
   * checked by JwtAuthGuard), open "sync now" streams end on commit (their reconnection is then
   * refused), and emailed reset links not used yet stop working. With `expectedHash`, only if that is
   * still the stored hash. Returns false when nothing was changed (no such user, or not the expected hash).
   *
   * The users row is updated (and locked) before the sign-in lock is taken, in the order the
   * families module's removal takes them. A sign-in that held that lock first (a login that checked
   * the old hash, a refresh) committed its token before the revocation, whose UPDATE then sees and
   * revokes it; one that waits for it finds the new hash, or its token revoked.
   */
  private async replacePassword(manager: EntityManager, userId: string, passwordHash: string, expectedHash?: string): Promise<boolean> {
    // The application's clock, like the tokens' iat it is compared with.
    const tokensValidAfter = new Date();
    const where = expectedHash === undefined ? { id: userId } : { id: userId, passwordHash: expectedHash };
    const { affected } = await manager.update(UserEntity, where, { passwordHash, tokensValidAfter });
    if (!affected) return false;
    await this.tokens.revokeAllForUser(userId, manager);
    // A link sent before the password changed must not change it again.
    await this.resetTokens.revokeUnused(manager, userId);
    // On every instance (LISTEN/NOTIFY), like a membership change.
    await this.versions.notifyMembershipChange(manager, userId);
    return true;
  }

  /** Stored emails are normalized (normalizeEmail), so a normalized one is found by equality. */
  private userByEmail(normalizedEmail: string): Promise<UserEntity | null> {
    return this.users.findOne({ where: { email: normalizedEmail } });
  }

  private async requireUser(userId: string): Promise<UserEntity> {
    const user = await this.users.findOne({ where: { id: userId } });
    if (!user) throw AuthErrors.unauthenticated();
    return user;
  }

  private insertUser(manager: EntityManager, values: Partial<UserEntity>): Promise<UserEntity> {
    const repo = manager.getRepository(UserEntity);
    return repo.save(repo.create(values));
  }
}
