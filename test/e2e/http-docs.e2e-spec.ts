import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { RequestMethod, type INestApplication, type Type } from '@nestjs/common';
import { GUARDS_METADATA, INTERCEPTORS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { ErrorCode } from '../../src/common/errors/domain-error.js';
import { testEnv, withEnv } from '../setup/test-app.js';

/**
 * The OpenAPI document is checked on the app as `nest build` compiled it (dist/,
 * built by `npm test`'s pretest), because that is what production serves: under
 * ts-jest the Swagger plugin's controller pass cannot resolve handler return
 * types (no full type-checker program), so response schemas and summaries would
 * be missing from a document built from src/.
 */
const scratch = mkdtempSync(join(tmpdir(), 'hemoday-docs-'));

async function createBuiltApp(): Promise<INestApplication> {
  if (!process.env.TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (global set-up)');
  return withEnv({ ...testEnv(), UPLOAD_DIR: scratch, DATA_DIR: scratch }, initBuiltApp);
}

async function initBuiltApp(): Promise<INestApplication> {
  const dist = '../../dist/src/';
  const { AppModule } = await import(`${dist}app.module.js`);
  const { configureApp } = await import(`${dist}configure-app.js`);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ bodyParser: false, bufferLogs: true });
  configureApp(app);
  await app.init();
  return app;
}

/** Routes anyone may call without a bearer token. Anything else must require one. */
const PUBLIC_ROUTES = new Set([
  'GET /health',
  'POST /api/v1/auth/register',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/refresh',
  'POST /api/v1/auth/logout',
]);

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** A guard or interceptor as `@UseGuards`/`@UseInterceptors` hold it: a class, or an instance. */
function nameOf(enhancer: unknown): string {
  return typeof enhancer === 'function' ? enhancer.name : (enhancer as object).constructor.name;
}

/**
 * Every route the app really serves, read from Nest's own metadata (what the router and the guard
 * and interceptor consumers read), with its guards and interceptors in the order Nest runs them:
 * the controller's, then the handler's. Paths are written as OpenAPI writes them (`{id}`).
 */
function realRoutes(app: INestApplication): Array<{ route: string; guards: string[]; interceptors: string[] }> {
  const reflector = app.get(Reflector);
  const scanner = new MetadataScanner();
  const controllers = new DiscoveryService(app.get(ModulesContainer)).getControllers();
  return controllers.flatMap(({ metatype, instance }) => {
    if (!metatype || !instance) return [];
    const controller = metatype as Type<unknown>;
    const base = [reflector.get<string | string[]>(PATH_METADATA, controller)].flat()[0] ?? '';
    const classGuards = reflector.get<unknown[]>(GUARDS_METADATA, controller) ?? [];
    const classInterceptors = reflector.get<unknown[]>(INTERCEPTORS_METADATA, controller) ?? [];
    return scanner.getAllMethodNames(Object.getPrototypeOf(instance)).flatMap((name) => {
      const handler = (instance as Record<string, () => unknown>)[name];
      const method = reflector.get<RequestMethod | undefined>(METHOD_METADATA, handler);
      if (method === undefined) return [];
      return [reflector.get<string | string[]>(PATH_METADATA, handler)].flat().map((path) => {
        const full = `/${[base, path].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/').replace(/:(\w+)/g, '{$1}');
        return {
          route: `${RequestMethod[method]} ${full}`,
          guards: [...classGuards, ...(reflector.get<unknown[]>(GUARDS_METADATA, handler) ?? [])].map(nameOf),
          interceptors: [...classInterceptors, ...(reflector.get<unknown[]>(INTERCEPTORS_METADATA, handler) ?? [])].map(nameOf),
        };
      });
    });
  });
}

interface Operation {
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
}

describe('OpenAPI document and route guards (e2e)', () => {
  let app: INestApplication;
  const http = () => request(app.getHttpServer());
  let doc: {
    paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
  };
  let routes: Array<{ route: string; method: string; path: string; auth: boolean }>;
  let served: ReturnType<typeof realRoutes>;

  beforeAll(async () => {
    app = await createBuiltApp();
    doc = (await http().get('/docs-json').expect(200)).body;
    routes = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        METHODS.filter((m) => ops[m]).map((m) => ({
          route: `${m.toUpperCase()} ${path}`,
          method: m,
          path,
          auth: (ops[m]!.security ?? []).some((s) => 'bearer' in s),
        })),
      )
      .sort((x, y) => x.route.localeCompare(y.route));
    served = realRoutes(app).sort((x, y) => x.route.localeCompare(y.route));
  });
  afterAll(async () => {
    await app.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  /**
   * The route table, reviewed like code, from what Nest really runs (not from the OpenAPI
   * document): a new route, a route that loses or swaps a guard (`@FamilyScoped` for
   * `@Authenticated`, a dropped rate limit) or an interceptor changes this snapshot. Update it
   * with `npm test -- -u` after checking the new line says what you meant.
   */
  it('lists every route with the guards and interceptors Nest runs for it', () => {
    expect(
      served.map((r) => `${r.route} guards: ${r.guards.join(', ') || '-'}; interceptors: ${r.interceptors.join(', ') || '-'}`),
    ).toMatchSnapshot();
  });

  it('documents exactly the routes the app serves, with bearer security exactly where the JWT guard runs', () => {
    expect(routes.map((r) => r.route)).toEqual(served.map((r) => r.route));
    const documented = Object.fromEntries(routes.map((r) => [r.route, r.auth]));
    expect(served.map((r) => [r.route, documented[r.route]])).toEqual(served.map((r) => [r.route, r.guards.includes('JwtAuthGuard')]));
  });

  it('documents bearer security on every route that is not explicitly public', () => {
    const unguarded = routes.filter((r) => !r.auth && !PUBLIC_ROUTES.has(r.route)).map((r) => r.route);
    expect(unguarded).toEqual([]);
    const publicButGuarded = routes.filter((r) => r.auth && PUBLIC_ROUTES.has(r.route)).map((r) => r.route);
    expect(publicButGuarded).toEqual([]);
    for (const route of PUBLIC_ROUTES) expect(routes.map((r) => r.route)).toContain(route);
  });

  it('every documented bearer route really answers 401 without a token', async () => {
    const guarded = routes.filter((r) => r.auth);
    expect(guarded.length).toBeGreaterThanOrEqual(6);
    for (const r of guarded) {
      const url = r.path.replace(/\{[^}]+\}/g, randomUUID());
      const res = await http()[r.method as (typeof METHODS)[number]](url).set('Content-Type', 'application/json').send('{}');
      expect({ route: r.route, status: res.status }).toEqual({ route: r.route, status: 401 });
      expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized', message: expect.any(String), details: { code: 'UNAUTHENTICATED' } });
    }
  });

  it('documents the properties of every request and response DTO', () => {
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas.RegisterDto.properties ?? {}).sort()).toEqual(['email', 'invite_code', 'name', 'password']);
    expect(schemas.RegisterDto.required?.sort()).toEqual(['email', 'password']);
    expect(Object.keys(schemas.LoginDto.properties ?? {}).sort()).toEqual(['email', 'password']);
    expect(Object.keys(schemas.JoinFamilyDto.properties ?? {})).toEqual(['invite_code']);
    expect(Object.keys(schemas.RefreshDto.properties ?? {})).toEqual(['refresh_token']);
    expect(Object.keys(schemas.UpdateFamilyDto.properties ?? {}).sort()).toEqual(
      ['notes', 'patient_birth_date', 'patient_blood_group', 'patient_diagnosis', 'patient_name', 'patient_weight_kg'],
    );
    expect(schemas.AuthResponse.properties).toHaveProperty('access_token');
    expect(schemas.FamilyResponse.properties).toHaveProperty('members');
    expect(schemas.ErrorResponse.properties).toHaveProperty('statusCode');
    expect(schemas.InviteCodeResponse.properties).toHaveProperty('invite_code');
    // No schema is an empty shell.
    const empty = Object.entries(schemas).filter(([, s]) => !s.properties || !Object.keys(s.properties).length).map(([name]) => name);
    expect(empty).toEqual([]);
  });

  it.each([
    ['RefreshDto', 'refresh_token'],
    ['LoginDto', 'password'],
    ['AuthResponse', 'access_token'],
    ['AuthResponse', 'refresh_token'],
    ['TokenResponse', 'access_token'],
    ['TokenResponse', 'refresh_token'],
    ['UserResponse', 'name'],
    ['UserResponse', 'role'],
    ['FamilySummaryResponse', 'patient_name'],
    ['FamilySummaryResponse', 'patient_birth_date'],
    ['FamilySummaryResponse', 'patient_weight_kg'],
    ['FamilySummaryResponse', 'patient_blood_group'],
    ['FamilySummaryResponse', 'patient_diagnosis'],
    ['FamilySummaryResponse', 'notes'],
    ['UpdateFamilyDto', 'notes'],
    ['UploadResponse', 'id'],
    ['UploadResponse', 'size_bytes'],
    ['SyncPushBodyDto', 'lastPulledAt'],
  ])('%s.%s has a description and an example', (schema, property) => {
    const prop = (doc.components.schemas[schema].properties ?? {})[property] as { description?: string; example?: unknown };
    expect({ schema, property, description: Boolean(prop?.description), example: prop?.example !== undefined }).toEqual({ schema, property, description: true, example: true });
  });

  it('schema_version is documented as what it does (it leaves out newer tables and columns), not as informational', () => {
    const op = doc.paths['/api/v1/sync'].get as unknown as { parameters: Array<{ name: string; description?: string }> };
    const description = op.parameters.find((p) => p.name === 'schema_version')?.description ?? '';
    expect(description).not.toMatch(/informational/i);
    expect(description).toMatch(/left out/);
  });

  it('every successful response of an auth/families route documents its body schema', () => {
    for (const r of routes.filter((x) => /^\/api\/v1\/(auth|families)\//.test(x.path))) {
      const op = doc.paths[r.path][r.method as (typeof METHODS)[number]]! as Operation & { responses: Record<string, { content?: unknown }> };
      const ok = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
      expect({ route: r.route, ok: ok.length }).toEqual({ route: r.route, ok: 1 });
      const [status, response] = ok[0];
      if (status !== '204') expect({ route: r.route, content: Boolean(response.content) }).toEqual({ route: r.route, content: true });
    }
  });

  it('every JSON request body refers to a documented schema', () => {
    for (const r of routes) {
      const op = doc.paths[r.path][r.method as (typeof METHODS)[number]]!;
      const json = op.requestBody?.content['application/json'];
      if (!json?.schema.$ref) continue;
      const name = json.schema.$ref.split('/').pop()!;
      expect({ route: r.route, documented: Boolean(doc.components.schemas[name]?.properties) }).toEqual({ route: r.route, documented: true });
    }
  });

  describe('error responses', () => {
    type Responses = Record<string, { content?: { 'application/json'?: { schema?: { $ref?: string } } } }>;
    const responses = (path: string, method: (typeof METHODS)[number]) => (doc.paths[path][method] as unknown as { responses: Responses }).responses;

    it('ErrorResponse types details (code, fields[], retryAfterSeconds) and its example is a real 400', () => {
      const schemas = doc.components.schemas as Record<string, { properties?: Record<string, Record<string, unknown>>; required?: string[] }>;
      const error = schemas.ErrorResponse;
      expect(error.properties!.statusCode.example).toBe(400);
      expect(error.properties!.error.example).toBe('Bad Request');
      expect(error.properties!.details).toMatchObject({
        allOf: [{ $ref: '#/components/schemas/ErrorDetails' }],
        example: { code: 'VALIDATION_FAILED', fields: [{ field: 'email', errors: ['email must be an email'] }] },
      });
      expect(schemas.ErrorDetails.required).toEqual(['code']);
      // Every code the app can answer, generated from the enum (a hand-kept list missed some).
      expect((schemas.ErrorDetails.properties!.code.enum as string[]).sort()).toEqual(Object.values(ErrorCode).sort());
      expect(schemas.ErrorDetails.properties!.code.enum).toEqual(expect.arrayContaining(['INVALID_UPLOAD', 'RANGE_NOT_SATISFIABLE', 'MALFORMED_REQUEST']));
      expect(schemas.ErrorDetails.properties!.fields).toMatchObject({ type: 'array', items: { $ref: '#/components/schemas/FieldError' } });
      expect(schemas.ErrorDetails.properties!).toHaveProperty('retryAfterSeconds');
      expect(schemas.FieldError.required?.sort()).toEqual(['errors', 'field']);
    });

    it.each([
      ['/api/v1/auth/register', 'post', ['400', '404', '409', '413', '429']],
      ['/api/v1/auth/login', 'post', ['400', '401', '413', '429']],
      ['/api/v1/auth/join-family', 'post', ['400', '401', '404', '409', '413', '429']],
      ['/api/v1/auth/refresh', 'post', ['400', '401', '413']],
      ['/api/v1/auth/logout', 'post', ['400', '413']],
      ['/api/v1/families/me', 'patch', ['400', '401', '403', '413']],
      ['/api/v1/families/me/members/{userId}', 'delete', ['400', '401', '403', '404', '422']],
      ['/api/v1/files/{id}', 'get', ['400', '401', '403', '404', '416']],
    ] as const)('%s %s documents its errors %j with the error schema', (path, method, statuses) => {
      const documented = responses(path, method);
      for (const status of statuses) {
        expect({ status, schema: documented[status]?.content?.['application/json']?.schema?.$ref }).toEqual({
          status,
          schema: '#/components/schemas/ErrorResponse',
        });
      }
    });

    it('ids are documented as UUIDs (responses and every path parameter)', () => {
      const schemas = doc.components.schemas as Record<string, { properties: Record<string, { format?: string }> }>;
      expect(schemas.UserResponse.properties.id.format).toBe('uuid');
      expect(schemas.UserResponse.properties.family_id.format).toBe('uuid');
      expect(schemas.FamilySummaryResponse.properties.id.format).toBe('uuid');
      expect(schemas.FamilyMemberResponse.properties.id.format).toBe('uuid');
      const op = doc.paths['/api/v1/families/me/members/{userId}'].delete as unknown as { parameters: Array<{ name: string; in: string; schema: { format?: string } }> };
      expect(op.parameters.find((p) => p.name === 'userId')).toMatchObject({ in: 'path', schema: { format: 'uuid' } });
      const file = doc.paths['/api/v1/files/{id}'].get as unknown as { parameters: Array<{ name: string; in: string; schema: { format?: string } }> };
      expect(file.parameters.find((p) => p.name === 'id')).toMatchObject({ in: 'path', schema: { format: 'uuid' } });
      expect((schemas.UploadResponse.properties.id as { format?: string }).format).toBe('uuid');
    });
  });

  it('serves the Swagger UI at /docs', async () => {
    const res = await http().get('/docs').expect(200);
    expect(res.text).toMatch(/swagger/i);
  });
});
