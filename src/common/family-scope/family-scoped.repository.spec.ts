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

    it('every read, write and query builder throws, and the refused writes write nothing', async () => {
      // Values of this test's own: what it checks does not depend on the other tests or their order.
      const email = `nobody-${randomUUID()}@example.test`;
      const name = `refused-${randomUUID()}`;
      await expectScopeMissing(() => members.find());
      await expectScopeMissing(() => members.findOne({ id: userA.id }));
      await expectScopeMissing(() => members.count());
      await expectScopeMissing(() => members.update({ id: userA.id }, { name }));
      await expectScopeMissing(() => members.insert({ email, passwordHash: 'x' }));
      await expectScopeMissing(() => members.createQueryBuilder('u'));
      await expectScopeMissing(() => members.withManager(dataSource.manager).find());
      await expectScopeMissing(() => families.find());
      const [{ n }] = await dataSource.query('SELECT count(*)::int AS n FROM users WHERE email = $1 OR name = $2', [email, name]);
      expect(n).toBe(0);
    });

    it('FamilyContext.require() throws and current() is undefined', () => {
      expect(context.current()).toBeUndefined();
      expect(() => context.require()).toThrow(DomainError);
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

    describe('query builder: the scope cannot be removed', () => {
      const idsOf = (rows: UserEntity[]) => rows.map((u) => u.id);

      it('a later where() adds to the scope instead of replacing it', async () => {
        await inA(async () => {
          expect(await members.createQueryBuilder('u').where('u.id = :other', { other: userB.id }).getMany()).toEqual([]);
          expect(idsOf(await members.createQueryBuilder('u').where('true').getMany())).toEqual([userA.id]);
          expect(await members.createQueryBuilder('u').whereInIds([userB.id]).getMany()).toEqual([]);
          expect(await members.createQueryBuilder('u').where('u.family_id = :f', { f: familyB.id }).getCount()).toBe(0);
        });
      });

      it('orWhere() cannot OR the scope away', async () => {
        await inA(async () => {
          const qb = members.createQueryBuilder('u').where('u.id = :a', { a: userA.id }).orWhere('u.id = :b', { b: userB.id });
          expect(idsOf(await qb.getMany())).toEqual([userA.id]);
          expect(idsOf(await members.createQueryBuilder('u').orWhere('true').getMany())).toEqual([userA.id]);
          const [sql] = members.createQueryBuilder('u').where('u.id = :a', { a: userA.id }).orWhere('true').getQueryAndParameters();
          expect(sql).toMatch(new RegExp(`\\) AND \\( "u"\\."family_id" = '${familyA.id}' \\)$`));
        });
      });

      it('clones (getCount, getManyAndCount, pagination) keep the scope', async () => {
        await inA(async () => {
          const qb = members.createQueryBuilder('u').where('true');
          expect(await qb.getCount()).toBe(1);
          expect(await qb.clone().where('true').orWhere('true').getCount()).toBe(1);
          const [rows, count] = await qb.orderBy('u.id').skip(0).take(10).getManyAndCount();
          expect([idsOf(rows), count]).toEqual([[userA.id], 1]);
        });
      });

      // Found by mutation testing: a scope that replaced the builder's own appended condition (where TypeORM
      // puts the ids of the page when it pages a query with joins in two steps) passed every test.
      it("a page of a query with a join keeps TypeORM's own condition of the page's ids", async () => {
        const second = await dataSource.getRepository(UserEntity).save({ email: `scope-${randomUUID()}@example.test`, passwordHash: 'x', familyId: familyB.id, role: 'member' });
        try {
          await context.run(scopeOf(familyB, userB), async () => {
            const page = (skip: number) =>
              members.createQueryBuilder('u').leftJoinAndSelect(FamilyEntity, 'f', 'f.id = u.family_id').orderBy('u.id').skip(skip).take(1).getMany();
            const ordered = [userB.id, second.id].sort();
            expect([idsOf(await page(0)), idsOf(await page(1)), idsOf(await page(2))]).toEqual([[ordered[0]], [ordered[1]], []]);
          });
        } finally {
          await dataSource.query('DELETE FROM users WHERE id = $1', [second.id]);
        }
      });

      it("neither a parameter named like the scope's nor a reset of the expression map drops it", async () => {
        await inA(async () => {
          const qb = members.createQueryBuilder('u').setParameters({ scopeFamilyId: familyB.id, familyId: familyB.id });
          expect(idsOf(await qb.getMany())).toEqual([userA.id]);
          const reset = members.createQueryBuilder('u').where('true');
          reset.expressionMap.wheres = [];
          expect(idsOf(await reset.getMany())).toEqual([userA.id]);
        });
      });

      it('refuses to become a write builder (update, delete, insert)', async () => {
        await inA(async () => {
          expect(() => members.createQueryBuilder('u').update()).toThrow(/read-only/);
          expect(() => members.createQueryBuilder('u').delete()).toThrow(/read-only/);
          expect(() => members.createQueryBuilder('u').insert()).toThrow(/read-only/);
          expect(() => members.createQueryBuilder('u').softDelete()).toThrow(/read-only/);
        });
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

    it("insert() never touches an existing row: another family's id fails and that row stays where it was", async () => {
      let caught: unknown;
      try {
        await inA(() => members.insert({ id: userB.id, email: `steal-${randomUUID()}@example.test`, passwordHash: 'x', role: 'member' }));
      } catch (error) {
        caught = error;
      }
      // A unique violation (an expected failure for the caller to map), not a silent UPDATE of family B's row.
      expect((caught as { driverError?: { code?: string } })?.driverError?.code).toBe('23505');
      const [row] = await dataSource.query('SELECT family_id, email FROM users WHERE id = $1', [userB.id]);
      expect(row).toEqual({ family_id: familyB.id, email: userB.email });
    });

    it('insert() returns the row with its generated and default columns', async () => {
      const inserted = await inA(() => members.insert({ email: `gen-${randomUUID()}@example.test`, passwordHash: 'x', role: 'member' }));
      expect(inserted.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(inserted.createdAt).toBeInstanceOf(Date);
      expect(inserted.familyJoinedVersion).toBe(0);
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
