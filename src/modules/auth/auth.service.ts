import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { membershipChanged } from '../../common/family-scope/membership.js';
import { isUniqueViolation } from '../../common/postgres-errors.js';
import { FamilyVersionService } from '../../common/versioning/family-version.service.js';
import { FamiliesService } from '../families/families.service.js';
import { AuthResponse, MeResponse, TokenResponse, UserResponse } from './dto/auth.response.js';
import { LoginDto, RegisterDto } from './dto/auth.dto.js';
import { normalizeEmail } from './email.js';
import { UserEntity } from './entities/user.entity.js';
import { AuthErrors } from './auth.errors.js';
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
    private readonly versions: FamilyVersionService,
  ) {}

  /**
   * Creates the user with a new family (as owner), or in the family of `invite_code` (as member).
   * Each public method normalizes the email once: its callers are HTTP (whose DTO normalized it
   * already, to validate the stored form) and the admin CLI (as typed).
   */
  async register(dto: RegisterDto): Promise<AuthResponse> {
    const email = normalizeEmail(dto.email);
    if (await this.userByEmail(email)) throw AuthErrors.emailTaken();
    const passwordHash = await this.passwords.hash(dto.password);
    const base = { email, passwordHash, name: dto.name ?? null };
    try {
      const user = dto.invite_code
        ? await this.families.joinByInviteCode(dto.invite_code, (manager, familyId, version) =>
            this.insertUser(manager, { ...base, familyId, role: 'member', familyJoinedVersion: version }),
          )
        : await this.families.createWithOwner((manager, familyId, version) =>
            this.insertUser(manager, { ...base, familyId, role: 'owner', familyJoinedVersion: version }),
          );
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
    const valid = await this.passwords.verify(user?.passwordHash, dto.password);
    if (!user || !valid) throw AuthErrors.invalidCredentials();
    const storedHash = this.passwords.needsRehash(user.passwordHash) ? await this.rehash(user, dto.password) : user.passwordHash;
    return AuthResponse.from(await this.tokens.issue(user.id, storedHash), user);
  }

  /**
   * Replaces a hash made with other parameters than PASSWORD_HASH_* by one at the configured cost
   * (the password just verified). Only if the stored hash is still the one verified: a password reset
   * in between wins. A failure here does not fail the login (the old hash still works). Returns the
   * hash stored for the password just verified: the new one, or the old one if it was not replaced.
   */
  private async rehash(user: UserEntity, password: string): Promise<string> {
    try {
      const passwordHash = await this.passwords.hash(password);
      const { affected } = await this.users.update({ id: user.id, passwordHash: user.passwordHash }, { passwordHash });
      return affected ? passwordHash : user.passwordHash;
    } catch (error) {
      this.logger.warn(`could not rehash the password of user ${user.id}: ${error instanceof Error ? error.message : String(error)}`);
      return user.passwordHash;
    }
  }

  /** Moves the caller into the family of `inviteCode` (from none, or from another family; the rules: FamiliesService.moveMember). */
  async joinFamily(userId: string, inviteCode: string): Promise<MeResponse> {
    await this.families.moveMember(await this.requireUser(userId), inviteCode);
    return this.me(userId);
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
   * Sets a new password (admin CLI support work) and signs the user out everywhere, at once: every
   * refresh token is revoked in the same transaction, access tokens issued until now are refused
   * from the next request on (`tokens_valid_after`, checked by JwtAuthGuard), and open "sync now"
   * streams end on commit (their reconnection is then refused).
   */
  async resetPassword(email: string, password: string): Promise<UserEntity> {
    const normalized = normalizeEmail(email);
    const user = await this.userByEmail(normalized);
    if (!user) throw AuthErrors.noSuchUser(normalized);
    const passwordHash = await this.passwords.hash(password);
    await this.users.manager.transaction(async (manager) => {
      // The application's clock, like the tokens' iat it is compared with.
      await manager.update(UserEntity, { id: user.id }, { passwordHash, tokensValidAfter: new Date() });
      await this.tokens.revokeAllForUser(user.id, manager);
      // On every instance (LISTEN/NOTIFY), like a membership change.
      await this.versions.notifyMembershipChange(manager, user.id);
    });
    return user;
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
