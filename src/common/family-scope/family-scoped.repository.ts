import { And, Equal, FindOperator } from 'typeorm';
import type {
  DeepPartial,
  EntityManager,
  FindOptionsOrder,
  FindOptionsWhere,
  ObjectLiteral,
  Repository,
  SelectQueryBuilder,
} from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { FamilyContext } from './family-context.js';

/**
 * A repository that can only see and write the current family's rows. Every
 * read gets `<scope column> = current family` added, every insert gets the
 * family set, and every call throws when no family is in context.
 *
 * `scopeProperty` is the entity property holding the family id: `familyId`
 * for medical rows, `id` for the families table itself.
 */
export class FamilyScopedRepository<T extends ObjectLiteral> {
  constructor(
    protected readonly repository: Repository<T>,
    protected readonly familyContext: FamilyContext,
    protected readonly scopeProperty: keyof T & string = 'familyId',
  ) {}

  /** The current family's id; throws when there is none. */
  protected get familyId(): string {
    return this.familyContext.require().familyId;
  }

  /**
   * The caller's conditions AND the scope. A condition on the scope column itself
   * is kept and ANDed (another family's id matches nothing), never overwritten:
   * `families.update({ id: otherFamily }, …)` must not quietly update the caller's own row.
   */
  private scoped(where: FindOptionsWhere<T> = {}): FindOptionsWhere<T> {
    const familyId = this.familyId;
    const requested = (where as Record<string, unknown>)[this.scopeProperty];
    const condition =
      requested === undefined ? familyId : And(requested instanceof FindOperator ? requested : Equal(requested), Equal(familyId));
    return { ...where, [this.scopeProperty]: condition } as FindOptionsWhere<T>;
  }

  /** Same scope, inside a caller's transaction. */
  withManager(manager: EntityManager): this {
    const Self = this.constructor as new (r: Repository<T>, c: FamilyContext, s: keyof T & string) => this;
    return new Self(manager.getRepository<T>(this.repository.target), this.familyContext, this.scopeProperty);
  }

  find(where?: FindOptionsWhere<T>, order?: FindOptionsOrder<T>): Promise<T[]> {
    return this.repository.find({ where: this.scoped(where), order });
  }

  findOne(where: FindOptionsWhere<T>): Promise<T | null> {
    return this.repository.findOne({ where: this.scoped(where) });
  }

  count(where?: FindOptionsWhere<T>): Promise<number> {
    return this.repository.count({ where: this.scoped(where) });
  }

  async insert(values: DeepPartial<T>): Promise<T> {
    const entity = this.repository.create({ ...values, [this.scopeProperty]: this.familyId } as DeepPartial<T>);
    return this.repository.save(entity);
  }

  /** Updates the scoped rows matching `where`; returns how many changed. */
  async update(where: FindOptionsWhere<T>, patch: QueryDeepPartialEntity<T>): Promise<number> {
    const { [this.scopeProperty]: _ignored, ...safePatch } = patch as Record<string, unknown>;
    const result = await this.repository.update(this.scoped(where), safePatch as unknown as QueryDeepPartialEntity<T>);
    return result.affected ?? 0;
  }

  /** A query builder that starts already filtered to the current family. */
  createQueryBuilder(alias: string): SelectQueryBuilder<T> {
    const column = this.repository.metadata.findColumnWithPropertyName(this.scopeProperty)!.databaseName;
    return this.repository
      .createQueryBuilder(alias)
      .where(`${alias}.${column} = :scopeFamilyId`, { scopeFamilyId: this.familyId });
  }
}
