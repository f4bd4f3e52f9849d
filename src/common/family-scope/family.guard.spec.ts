import type { ExecutionContext } from '@nestjs/common';
import { createSecretKey } from 'node:crypto';
import { createServiceKit, unitEmail, TEST_JWT_SECRET, type ServiceKit } from '../../../test/factories/services.factory.js';
import { JwtStrategy } from '../../modules/auth/jwt.strategy.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { FamilyGuard } from './family.guard.js';
import { loadAuthenticatedUser } from './jwt-auth.guard.js';
import type { AuthenticatedUser, ScopedRequest } from './family-scope.request.js';

/**
 * Resolving the family of a request, as JwtAuthGuard + FamilyGuard do it: the strategy checks the
 * token's claims, JwtAuthGuard reads the user from the run's real PostgreSQL, the guard turns the membership into the scope or refuses.
 */
describe('FamilyGuard (after the JWT strategy)', () => {
  let kit: ServiceKit;
  const strategy = new JwtStrategy(createSecretKey(Buffer.from(TEST_JWT_SECRET)));
  const guard = new FamilyGuard();
  beforeAll(async () => {
    kit = await createServiceKit();
  });
  afterAll(() => kit?.close());

  const contextFor = (request: Partial<ScopedRequest>): ExecutionContext =>
    ({ switchToHttp: () => ({ getRequest: () => request }) }) as unknown as ExecutionContext;

  /** What a request with a valid token of `userId` ends up with: its scope, or the refusal. */
  async function resolve(userId: string): Promise<{ user: AuthenticatedUser | false; request: Partial<ScopedRequest>; error?: DomainError }> {
    const token = strategy.validate({ sub: userId, typ: 'access', iat: Math.floor(Date.now() / 1000) });
    const user = (token && (await loadAuthenticatedUser(kit.dataSource, token))) || false;
    const request: Partial<ScopedRequest> = user ? { user } : {};
    try {
      guard.canActivate(contextFor(request));
      return { user, request };
    } catch (error) {
      return { user, request, error: error as DomainError };
    }
  }

  const register = async (inviteCode?: string | null) =>
    (await kit.auth.register({ email: unitEmail('guard'), password: 'correct horse battery', ...(inviteCode && { invite_code: inviteCode }) })).user;

  it("a member gets their family's scope, with role and join version from the database", async () => {
    const owner = await register();
    const { invite_code } = await kit.as(owner.id, () => kit.families.getCurrent());
    const member = await register(invite_code);
    const { request, error } = await resolve(member.id);
    expect(error).toBeUndefined();
    const [row] = await kit.dataSource.query('SELECT family_joined_version FROM users WHERE id = $1', [member.id]);
    expect(request.familyScope).toEqual({ userId: member.id, familyId: owner.family_id, role: 'member', joinedVersion: Number(row.family_joined_version), signInId: null });
  });

  it('a removed member is refused on the very next request (NO_FAMILY, 403), though the token is still valid', async () => {
    const owner = await register();
    const { invite_code } = await kit.as(owner.id, () => kit.families.getCurrent());
    const member = await register(invite_code);
    expect((await resolve(member.id)).error).toBeUndefined();
    await kit.as(owner.id, () => kit.families.removeMember(member.id));
    const { user, request, error } = await resolve(member.id);
    expect(user).toMatchObject({ userId: member.id, familyId: null, role: null }); // still authenticated…
    expect(error).toBeInstanceOf(DomainError); // …but in no family
    expect([error!.code, error!.status]).toEqual([ErrorCode.NO_FAMILY, 403]);
    expect(request.familyScope).toBeUndefined();
  });

  it('a member who moved to another family gets the new family at once', async () => {
    const first = await register();
    const second = await register();
    const { invite_code } = await kit.as(second.id, () => kit.families.getCurrent());
    await kit.auth.joinFamily(first.id, invite_code!);
    expect((await resolve(first.id)).request.familyScope).toMatchObject({ familyId: second.family_id, role: 'member' });
  });

  it('a deleted user is not authenticated at all', async () => {
    const user = await register();
    await kit.dataSource.query('UPDATE families SET created_by = NULL, updated_by = NULL WHERE id = $1', [user.family_id]);
    await kit.dataSource.query('DELETE FROM users WHERE id = $1', [user.id]);
    expect((await resolve(user.id)).user).toBe(false);
  });

  it('without an authenticated user the guard refuses (UNAUTHENTICATED), never falls back to a family', () => {
    let caught: unknown;
    try {
      guard.canActivate(contextFor({}));
    } catch (error) {
      caught = error;
    }
    expect((caught as DomainError).code).toBe(ErrorCode.UNAUTHENTICATED);
  });
});
