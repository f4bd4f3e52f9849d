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
import { isUuid } from '../http/uuid.js';

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

  /**
   * A plain INSERT into the current family. Never `save()`: save first SELECTs the id without the
   * scope and UPDATEs the row it finds, so an id that exists in another family would move that
   * family's row into this one. An existing id fails with a unique violation instead.
   */
  async insert(values: DeepPartial<T>): Promise<T> {
    const entity = this.repository.create({ ...values, [this.scopeProperty]: this.familyId } as DeepPartial<T>);
    const { identifiers } = await this.repository.insert(entity as QueryDeepPartialEntity<T>);
    // Read back through the scope: RETURNING leaves defaults untransformed (a bigint default comes back as a string).
    const row = await this.findOne(identifiers[0] as FindOptionsWhere<T>);
    if (!row) throw new Error('FamilyScopedRepository: the inserted row is not visible in its own family');
    return row;
  }

  /** Updates the scoped rows matching `where`; returns how many changed. */
  async update(where: FindOptionsWhere<T>, patch: QueryDeepPartialEntity<T>): Promise<number> {
    const { [this.scopeProperty]: _ignored, ...safePatch } = patch as Record<string, unknown>;
    const result = await this.repository.update(this.scoped(where), safePatch as unknown as QueryDeepPartialEntity<T>);
    return result.affected ?? 0;
  }

  /**
   * A SELECT builder that cannot leave the current family. The scope is not one of the builder's
   * WHERE conditions (a later `.where()` would replace those and `.orWhere()` would OR them away):
   * it is ANDed to whatever conditions the builder has when its SQL is generated, on this builder
   * and on its clones (which `getCount()` and pagination use). Turning it into an UPDATE, DELETE or
   * INSERT builder throws: writes go through `update()` / `insert()` above.
   */
  createQueryBuilder(alias: string): SelectQueryBuilder<T> {
    const familyId = this.familyId;
    // A literal, not a parameter: a caller's `setParameter()` with the same name would replace a parameter's value.
    if (!isUuid(familyId)) throw new Error(`FamilyScopedRepository: family id is not a UUID`);
    const builder = this.repository.createQueryBuilder(alias);
    const column = this.repository.metadata.findColumnWithPropertyName(this.scopeProperty)!.databaseName;
    return lockScope(builder, `${builder.escape(alias)}.${builder.escape(column)} = '${familyId}'`);
  }
}

/** The protected SelectQueryBuilder members the scope hooks into. */
interface BuilderInternals {
  createWhereExpression(): string;
  clone(): SelectQueryBuilder<ObjectLiteral>;
}

function lockScope<T extends ObjectLiteral>(builder: SelectQueryBuilder<T>, condition: string): SelectQueryBuilder<T> {
  const internals = builder as unknown as BuilderInternals;
  const createWhereExpression = internals.createWhereExpression.bind(builder);
  const clone = internals.clone.bind(builder);
  internals.createWhereExpression = () => {
    // TypeORM ANDs this slot, in its own parentheses, to the builder's conditions; whatever the caller set there is kept.
    const map = builder.expressionMap;
    const own = map.extraAppendedAndWhereCondition;
    map.extraAppendedAndWhereCondition = own ? `(${own}) AND ${condition}` : condition;
    try {
      return createWhereExpression();
    } finally {
      map.extraAppendedAndWhereCondition = own;
    }
  };
  internals.clone = () => lockScope(clone(), condition);
  for (const write of ['update', 'delete', 'softDelete', 'restore', 'insert', 'relation'] as const) {
    (builder as unknown as Record<string, unknown>)[write] = () => {
      throw new Error(`A family-scoped query builder is read-only (${write}() refused); use the scoped repository's update()/insert()`);
    };
  }
  return builder;
}
