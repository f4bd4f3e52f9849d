import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../database/data-source-options.js';
import { FamilyEntity } from '../../modules/families/entities/family.entity.js';
import { UserEntity } from '../../modules/auth/entities/user.entity.js';
import { generateInviteCode } from '../../modules/families/invite-code.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { FamilyContext, type FamilyScope } from './family-context.js';
import { FamilyScopedRepository } from './family-scoped.repository.js';

/** Real PostgreSQL (the run's test database): the scope is SQL, so it is tested as SQL. */
describe('FamilyScopedRepository', () => {
  let dataSource: DataSource;
  const context = new FamilyContext();
  let members: FamilyScopedRepository<UserEntity>;
  let families: FamilyScopedRepository<FamilyEntity>;
  let familyA: FamilyEntity;
  let familyB: FamilyEntity;
  let userA: UserEntity;
  let userB: UserEntity;

  const scopeOf = (family: FamilyEntity, user: UserEntity): FamilyScope => ({ userId: user.id, familyId: family.id, role: 'owner', joinedVersion: 0 });

  beforeAll(async () => {
    dataSource = new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 2 }));
    await dataSource.initialize();
    const newFamily = () =>
      dataSource.getRepository(FamilyEntity).save({ inviteCode: generateInviteCode(), createdAt: 1, updatedAt: 1, patientName: 'P' });
    [familyA, familyB] = [await newFamily(), await newFamily()];
    const newUser = (family: FamilyEntity) =>
      dataSource.getRepository(UserEntity).save({ email: `scope-${randomUUID()}@example.test`, passwordHash: 'x', familyId: family.id, role: 'owner' });
    [userA, userB] = [await newUser(familyA), await newUser(familyB)];
    members = new FamilyScopedRepository(dataSource.getRepository(UserEntity), context, 'familyId');
    families = new FamilyScopedRepository(dataSource.getRepository(FamilyEntity), context, 'id');
  });
  afterAll(async () => {
    await dataSource?.query('DELETE FROM users WHERE id = ANY($1)', [[userA.id, userB.id].filter(Boolean)]);
    await dataSource?.query('DELETE FROM families WHERE id = ANY($1)', [[familyA.id, familyB.id].filter(Boolean)]);
    await dataSource?.destroy();
  });

  describe('without a family in context (fail closed)', () => {
    const expectScopeMissing = async (work: () => unknown) => {
      let caught: unknown;
      try {
        await work();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(DomainError);
      expect((caught as DomainError).code).toBe(ErrorCode.FAMILY_SCOPE_MISSING);
      expect((caught as DomainError).status).toBe(500);
    };

    it('every read, write and query builder throws', async () => {
      await expectScopeMissing(() => members.find());
      await expectScopeMissing(() => members.findOne({ id: userA.id }));
      await expectScopeMissing(() => members.count());
      await expectScopeMissing(() => members.update({ id: userA.id }, { name: 'x' }));
      await expectScopeMissing(() => members.insert({ email: 'nobody@example.test', passwordHash: 'x' }));
      await expectScopeMissing(() => members.createQueryBuilder('u'));
      await expectScopeMissing(() => members.withManager(dataSource.manager).find());
      await expectScopeMissing(() => families.find());
    });

    it('FamilyContext.require() throws and current() is undefined', () => {
      expect(context.current()).toBeUndefined();
      expect(() => context.require()).toThrow(DomainError);
    });

    it('nothing was written by the refused calls', async () => {
      const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM users WHERE email = 'nobody@example.test'`);
      expect(n).toBe(0);
      const [row] = await dataSource.query('SELECT name FROM users WHERE id = $1', [userA.id]);
      expect(row.name).toBeNull();
    });
  });

  describe('inside a family scope', () => {
    const inA = <T>(work: () => Promise<T>) => context.run(scopeOf(familyA, userA), work);

    it('reads only the current family', async () => {
      await inA(async () => {
        expect((await members.find()).map((u) => u.id)).toEqual([userA.id]);
        expect(await members.findOne({ id: userB.id })).toBeNull();
        expect(await members.count({ id: userB.id })).toBe(0);
        expect((await members.createQueryBuilder('u').getMany()).map((u) => u.id)).toEqual([userA.id]);
        expect((await families.find()).map((f) => f.id)).toEqual([familyA.id]);
        expect(await families.findOne({ id: familyB.id })).toBeNull();
      });
    });

    it("a condition on another family's id matches nothing (it is ANDed with the scope, not replaced)", async () => {
      await inA(async () => {
        expect(await members.find({ familyId: familyB.id })).toEqual([]);
        expect(await members.count({ familyId: familyB.id })).toBe(0);
        expect(await families.findOne({ id: familyB.id })).toBeNull();
        expect((await families.findOne({ id: familyA.id }))?.id).toBe(familyA.id);
        expect((await members.find({ familyId: familyA.id })).map((u) => u.id)).toEqual([userA.id]);
        // andWhere keeps the scope.
        const qb = members.createQueryBuilder('u').andWhere('u.id = :other', { other: userB.id });
        expect(await qb.getMany()).toEqual([]);
      });
    });

    it('updates only the current family and never moves a row out of it', async () => {
      await inA(async () => {
        expect(await members.update({ id: userB.id }, { name: 'hijacked' })).toBe(0);
        expect(await members.update({ id: userA.id }, { name: 'Alice', familyId: familyB.id })).toBe(1);
        expect(await families.update({ id: familyB.id }, { patientName: 'hijacked' })).toBe(0);
      });
      const [fa] = await dataSource.query('SELECT patient_name FROM families WHERE id = $1', [familyA.id]);
      expect(fa.patient_name).toBe('P');
      const rows = await dataSource.query('SELECT id, name, family_id FROM users WHERE id = ANY($1) ORDER BY name', [[userA.id, userB.id]]);
      expect(rows).toEqual(
        expect.arrayContaining([
          { id: userA.id, name: 'Alice', family_id: familyA.id },
          { id: userB.id, name: null, family_id: familyB.id },
        ]),
      );
      const [fb] = await dataSource.query('SELECT patient_name FROM families WHERE id = $1', [familyB.id]);
      expect(fb.patient_name).toBe('P');
    });

    it('inserts into the current family whatever family the values name', async () => {
      const inserted = await inA(() => members.insert({ email: `ins-${randomUUID()}@example.test`, passwordHash: 'x', familyId: familyB.id, role: 'member' }));
      const [row] = await dataSource.query('SELECT family_id FROM users WHERE id = $1', [inserted.id]);
      expect(row.family_id).toBe(familyA.id);
      await dataSource.query('DELETE FROM users WHERE id = $1', [inserted.id]);
    });

    it('keeps the scope across awaits and inside a transaction (withManager)', async () => {
      await inA(async () => {
        await new Promise((r) => setTimeout(r, 5));
        await dataSource.transaction(async (manager) => {
          expect((await members.withManager(manager).find()).map((u) => u.id)).toEqual([userA.id]);
        });
      });
    });

    it('concurrent scopes do not bleed into each other', async () => {
      const [a, b] = await Promise.all([
        context.run(scopeOf(familyA, userA), async () => {
          await new Promise((r) => setTimeout(r, 10));
          return members.find();
        }),
        context.run(scopeOf(familyB, userB), () => members.find()),
      ]);
      expect(a.map((u) => u.id)).toEqual([userA.id]);
      expect(b.map((u) => u.id)).toEqual([userB.id]);
    });
  });
});
