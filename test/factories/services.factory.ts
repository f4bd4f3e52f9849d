import 'reflect-metadata';
import type { ConfigType } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { FamilyContext, type FamilyScope } from '../../src/common/family-scope/family-context.js';
import { FamilyVersionService } from '../../src/common/versioning/family-version.service.js';
import type { authConfig } from '../../src/config/configuration.js';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { RefreshTokenEntity } from '../../src/modules/auth/entities/refresh-token.entity.js';
import { UserEntity } from '../../src/modules/auth/entities/user.entity.js';
import { PasswordResetTokenRepository } from '../../src/modules/auth/password-reset-token.repository.js';
import { PasswordService } from '../../src/modules/auth/password.service.js';
import { TokenService } from '../../src/modules/auth/token.service.js';
import { FamilyEntity } from '../../src/modules/families/entities/family.entity.js';
import { FamiliesRepository, FamilyMembersRepository } from '../../src/modules/families/families.repository.js';
import { FamiliesService } from '../../src/modules/families/families.service.js';
import { FamilyMembershipService } from '../../src/modules/families/family-membership.service.js';
import { DomainError } from '../../src/common/errors/domain-error.js';

export type AuthConfig = ConfigType<typeof authConfig>;

export const TEST_JWT_SECRET = 'unit-test-secret-unit-test-secret-0123456789';

/**
 * The auth and families services wired by hand over the run's real PostgreSQL (no Nest app, no
 * HTTP): unit specs test the rules where they live, against the database they rely on.
 */
export interface ServiceKit {
  dataSource: DataSource;
  familyContext: FamilyContext;
  versions: FamilyVersionService;
  families: FamiliesService;
  memberships: FamilyMembershipService;
  passwords: PasswordService;
  jwt: JwtService;
  config: AuthConfig;
  tokens: TokenService;
  auth: AuthService;
  /** Runs `work` as `userId`, in their current family (as FamilyGuard would resolve it). */
  as<T>(userId: string, work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function createServiceKit(overrides: Partial<AuthConfig> = {}): Promise<ServiceKit> {
  if (!process.env.TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (global set-up)');
  const dataSource = new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL, { poolSize: 4 }));
  await dataSource.initialize();
  const config: AuthConfig = {
    jwtSecret: TEST_JWT_SECRET,
    accessTtlSeconds: 900,
    refreshTtlSeconds: 60 * 24 * 3600,
    rateLimit: 10,
    rateWindowSeconds: 60,
    passwordReset: { url: 'hemoday://reset-password?token={token}', ttlSeconds: 1800 },
    // The cost the global set-up gives the whole run (see test/setup/global-setup.mjs).
    passwordHash: {
      memoryCost: Number(process.env.PASSWORD_HASH_MEMORY_KIB ?? 65536),
      timeCost: Number(process.env.PASSWORD_HASH_ITERATIONS ?? 3),
      parallelism: Number(process.env.PASSWORD_HASH_PARALLELISM ?? 4),
    },
    ...overrides,
  };
  const familyContext = new FamilyContext();
  const versions = new FamilyVersionService(dataSource, familyContext, { familyMaxRecords: 1_000_000 });
  const families = new FamiliesService(
    new FamiliesRepository(dataSource.getRepository(FamilyEntity), familyContext),
    new FamilyMembersRepository(dataSource.getRepository(UserEntity), familyContext),
    versions,
    familyContext,
    dataSource.getRepository(FamilyEntity),
  );
  const memberships = new FamilyMembershipService(
    families,
    new FamilyMembersRepository(dataSource.getRepository(UserEntity), familyContext),
    versions,
    familyContext,
    dataSource.getRepository(FamilyEntity),
  );
  const passwords = new PasswordService(config);
  const jwt = new JwtService({ secret: TEST_JWT_SECRET, signOptions: { algorithm: 'HS256' } });
  const tokens = new TokenService(jwt, dataSource.getRepository(RefreshTokenEntity), config, versions);
  const auth = new AuthService(dataSource.getRepository(UserEntity), passwords, tokens, families, memberships, versions, new PasswordResetTokenRepository(dataSource));

  const as = async <T>(userId: string, work: () => Promise<T>): Promise<T> => {
    const user = await dataSource.getRepository(UserEntity).findOneOrFail({ where: { id: userId } });
    if (!user.familyId || !user.role) throw new Error(`user ${userId} has no family`);
    const scope: FamilyScope = { userId, familyId: user.familyId, role: user.role, joinedVersion: user.familyJoinedVersion };
    return familyContext.run(scope, work);
  };
  return { dataSource, familyContext, versions, families, memberships, passwords, jwt, config, tokens, auth, as, close: () => dataSource.destroy() };
}

/** A unique, already-normalized email per call. */
export const unitEmail = (prefix = 'unit') => `${prefix}-${randomUUID()}@example.test`;

/** The DomainError that `work` fails with (any other outcome fails the test). */
export async function domainFailure(work: () => Promise<unknown>): Promise<DomainError> {
  try {
    await work();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}
