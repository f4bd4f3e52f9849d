/**
 * Validates real answers against the OpenAPI document the app serves at /docs-json, with ajv: the
 * response schema the document gives (method, path, status), its $refs to #/components/schemas
 * followed. OpenAPI 3.0 schemas are not quite JSON Schema, so each is adapted first:
 * - `nullable: true` becomes "null, or the schema" (also around a `$ref`/`allOf`, where OpenAPI puts it);
 * - the boolean `exclusiveMinimum`/`exclusiveMaximum` of 3.0 become the numbers JSON Schema takes;
 * - `example` is dropped (not a JSON Schema keyword);
 * - an object schema that lists its properties and says nothing of others is closed
 *   (`additionalProperties: false`): a key the document does not name is a misfit, not a bonus a
 *   client generated from the document never sees. One that says `additionalProperties` (sync
 *   records, the ids of a conflict) keeps what it says.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

type Schema = Record<string, unknown>;

export interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: Schema }>; headers?: Record<string, { required?: boolean; schema?: Schema }> }> }>>;
  components: { schemas: Record<string, Schema> };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOCUMENT_ID = 'openapi';

/** The JSON Schema of an OpenAPI 3.0 schema (see the file's comment). */
export function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const { nullable, example: _example, exclusiveMinimum, exclusiveMaximum, ...rest } = schema as Schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(rest)) {
    if (key === '$ref' && typeof value === 'string') out.$ref = value.replace(/^#\/components\/schemas\//, `${DOCUMENT_ID}#/definitions/`);
    else if (key === 'properties') out.properties = Object.fromEntries(Object.entries(value as Schema).map(([name, s]) => [name, toJsonSchema(s)]));
    else if (key === 'enum') out.enum = value;
    else out[key] = toJsonSchema(value);
  }
  if (exclusiveMinimum === true) {
    out.exclusiveMinimum = out.minimum;
    delete out.minimum;
  }
  if (exclusiveMaximum === true) {
    out.exclusiveMaximum = out.maximum;
    delete out.maximum;
  }
  if (out.properties && out.additionalProperties === undefined) {
    if (Array.isArray(out.allOf) && out.allOf.length > 1) throw new Error('openapi-schema: an object with properties and allOf of several schemas cannot be closed');
    out.additionalProperties = false;
  }
  if (nullable === true) {
    // Its enum may list null too (OpenAPI 3.0.3 asks for that): the null branch answers for it.
    return { anyOf: [{ type: 'null' }, out] };
  }
  return out;
}

/** An ajv error as one line: where in the body, what is wrong. */
function describeError(error: ErrorObject, root = 'body'): string {
  const where = `${root}${error.instancePath.replace(/\//g, '.')}`;
  if (error.keyword === 'additionalProperties') return `${where}.${(error.params as { additionalProperty: string }).additionalProperty}: not documented`;
  if (error.keyword === 'enum') return `${where}: ${error.message} ${JSON.stringify((error.params as { allowedValues: unknown }).allowedValues)}`;
  return `${where}: ${error.message}`;
}

export interface ResponseContract {
  /**
   * How an answer departs from the document: [] when its status is documented for (method, path),
   * its body has a media type the document gives that status, and a JSON body fits the schema given
   * for it. `path` is the document's (`/api/v1/files/{id}`).
   */
  problems(method: string, path: string, answer: { status: number; body: unknown; contentType?: string }): string[];
  /**
   * How an answer's headers depart from the ones the document gives its status: a header marked
   * `required` that is missing, and any documented header whose value does not fit its schema (an
   * integer schema reads the value as a number). `headers` as Node gives them (lower-case names).
   */
  headerProblems(method: string, path: string, answer: { status: number; headers: Record<string, string | string[] | undefined> }): string[];
  /**
   * Every example the document gives (a schema's, a property's at any depth, a parameter's, a JSON
   * answer's) that does not fit the schema it illustrates: what Swagger UI shows a developer as an answer.
   */
  exampleProblems(): string[];
}

/** The response contract of `doc`, every component schema compiled once. */
export function responseContract(doc: OpenApiDocument): ResponseContract {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    // int64: what JSON numbers hold exactly (ms dates, byte counts); email and binary are request-side or not JSON.
    formats: { uuid: UUID, int64: { type: 'number', validate: (n: number) => Number.isSafeInteger(n) }, binary: true, email: true },
  });
  const definitions = Object.fromEntries(Object.entries(doc.components.schemas).map(([name, s]) => [name, toJsonSchema(s)]));
  ajv.addSchema({ $id: DOCUMENT_ID, definitions });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (key: string, schema: Schema): ValidateFunction => {
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile(toJsonSchema(schema) as Schema);
      compiled.set(key, validate);
    }
    return validate;
  };
  return {
    problems(method, path, { status, body, contentType }) {
      const operation = doc.paths[path]?.[method.toLowerCase()];
      if (!operation) return ['route not documented'];
      const documented = operation.responses?.[String(status)];
      if (!documented) return [`status ${status} not documented${(body as { details?: { code?: string } } | null)?.details?.code ? ` (${(body as { details: { code: string } }).details.code})` : ''}`];
      const isJson = /^application\/json/.test(contentType ?? '');
      // A HEAD answer has the headers of its body, never the body.
      if (method.toLowerCase() === 'head') return [];
      const types = Object.keys(documented.content ?? {});
      if (types.length && contentType && !types.some((type) => contentType.split(';')[0].trim() === type)) return [`a ${contentType} body where the document gives ${types.join(', ')}`];
      const schema = documented.content?.['application/json']?.schema;
      if (!schema) return isJson ? ['a JSON body where the document gives none'] : [];
      if (!isJson) return [`a ${contentType ?? 'body without a type'} where the document gives application/json`];
      const validate = validator(`${method} ${path} ${status}`, schema);
      return validate(body) ? [] : (validate.errors ?? []).map((e) => describeError(e));
    },
    headerProblems(method, path, { status, headers }) {
      const documented = doc.paths[path]?.[method.toLowerCase()]?.responses?.[String(status)]?.headers ?? {};
      return Object.entries(documented).flatMap(([name, header]) => {
        const value = headers[name.toLowerCase()];
        if (value === undefined) return header.required ? [`header ${name}: required, missing`] : [];
        if (!header.schema) return [];
        const read = /^(integer|number)$/.test(String(header.schema.type)) && /^-?\d+(\.\d+)?$/.test(String(value)) ? Number(value) : value;
        const validate = validator(`${method} ${path} ${status} header ${name}`, header.schema);
        return validate(read) ? [] : (validate.errors ?? []).map((e) => `header ${name}: ${JSON.stringify(value)} ${e.message}`);
      });
    },
    exampleProblems() {
      const misfits = (where: string, schema: Schema | undefined, example: unknown): string[] => {
        if (!schema || example === undefined) return [];
        const validate = validator(`example ${where}`, schema);
        return validate(example) ? [] : [`${where}: ${JSON.stringify(example)} ${(validate.errors ?? []).map((e) => describeError(e, 'example')).join('; ')}`];
      };
      const inSchema = (where: string, schema: Schema | undefined): string[] => {
        if (!schema) return [];
        return [
          ...misfits(where, schema, schema.example),
          ...Object.entries((schema.properties ?? {}) as Record<string, Schema>).flatMap(([name, s]) => inSchema(`${where}.${name}`, s)),
          ...inSchema(`${where}[]`, schema.items as Schema | undefined),
        ];
      };
      type Operation = { parameters?: Array<{ name: string; example?: unknown; schema?: Schema }>; responses?: Record<string, { content?: Record<string, { schema?: Schema; example?: unknown }> }> };
      return [
        ...Object.entries(doc.components.schemas).flatMap(([name, schema]) => inSchema(name, schema)),
        ...Object.entries(doc.paths).flatMap(([path, operations]) =>
          Object.entries(operations as Record<string, Operation>).flatMap(([method, operation]) => [
            ...(operation.parameters ?? []).flatMap((p) => misfits(`${method.toUpperCase()} ${path} ${p.name}`, p.schema, p.example)),
            ...Object.entries(operation.responses ?? {}).flatMap(([status, response]) => {
              const json = response.content?.['application/json'];
              return misfits(`${method.toUpperCase()} ${path} ${status}`, json?.schema, json?.example);
            }),
          ]),
        ),
      ];
    },
  };
}
