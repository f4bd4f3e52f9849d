import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { RequestMethod, type INestApplication, type Type } from '@nestjs/common';
import { GUARDS_METADATA, INTERCEPTORS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DomainError, ErrorCode } from '../../src/common/errors/domain-error.js';
import { invalidField, invalidRequest } from '../../src/common/errors/invalid-request.js';
import { FamilyGuard } from '../../src/common/family-scope/family.guard.js';
import { membershipChanged, signedOut } from '../../src/common/family-scope/membership.js';
import { bodyParserError } from '../../src/common/http/body-errors.js';
import { assertRecordRoom } from '../../src/common/versioning/family-version.service.js';
import { AuthErrors } from '../../src/modules/auth/auth.errors.js';
import { DocumentsErrors } from '../../src/modules/documents/documents.errors.js';
import { StorageUnavailableError } from '../../src/modules/documents/storage/file-storage.js';
import { FamiliesErrors } from '../../src/modules/families/families.errors.js';
import { SyncErrors } from '../../src/modules/sync/sync.errors.js';
import { responseContract, type OpenApiDocument, type ResponseContract } from '../setup/openapi-schema.js';
import { newClientIp } from '../setup/rate-limits.js';
import { startSmtpServer } from '../setup/smtp-server.js';
import { testEnv, withEnv } from '../setup/test-app.js';

/**
 * The OpenAPI document is checked on the app as `nest build` compiled it (dist/,
 * built by `npm test`'s pretest), because that is what production serves: under
 * ts-jest the Swagger plugin's controller pass cannot resolve handler return
 * types (no full type-checker program), so response schemas and summaries would
 * be missing from a document built from src/.
 */
const scratch = mkdtempSync(join(tmpdir(), 'hemoday-docs-'));

async function createBuiltApp(overrides: Record<string, string> = {}): Promise<INestApplication> {
  if (!process.env.TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (global set-up)');
  return withEnv({ ...testEnv(), UPLOAD_DIR: scratch, DATA_DIR: scratch, ...overrides }, initBuiltApp);
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
  'POST /api/v1/auth/forgot-password',
  'POST /api/v1/auth/reset-password',
]);

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'] as const;

/**
 * The error statuses each route answers (its error responses, all in the ErrorResponse shape):
 * what the document must list for it, no more, no less.
 */
const ERROR_STATUSES = [
  ['/health', 'get', ['503']],
  ['/api/v1/auth/register', 'post', ['400', '404', '409', '413', '415', '429', '503']],
  ['/api/v1/auth/login', 'post', ['400', '401', '413', '415', '429', '503']],
  ['/api/v1/auth/join-family', 'post', ['400', '401', '404', '409', '413', '415', '429', '503']],
  ['/api/v1/auth/change-password', 'post', ['400', '401', '413', '415', '422', '429', '503']],
  ['/api/v1/auth/forgot-password', 'post', ['400', '413', '415', '429', '503']],
  ['/api/v1/auth/reset-password', 'post', ['400', '401', '413', '415', '429', '503']],
  ['/api/v1/auth/me', 'get', ['401', '409', '503']],
  ['/api/v1/auth/me', 'delete', ['400', '401', '409', '413', '415', '429', '503']],
  ['/api/v1/auth/refresh', 'post', ['400', '401', '413', '415', '503']],
  ['/api/v1/auth/logout', 'post', ['400', '413', '415', '503']],
  ['/api/v1/families', 'post', ['400', '401', '409', '413', '415', '429', '503']],
  ['/api/v1/families/me', 'get', ['401', '403', '409', '503']],
  ['/api/v1/families/me', 'patch', ['400', '401', '403', '409', '413', '415', '503']],
  ['/api/v1/families/me/invite-code', 'post', ['400', '401', '403', '409', '413', '415', '503']],
  ['/api/v1/families/me/members/{userId}', 'delete', ['400', '401', '403', '404', '409', '413', '415', '422', '503']],
  ['/api/v1/families/me/owner', 'post', ['400', '401', '403', '404', '409', '413', '415', '422', '429', '503']],
  ['/api/v1/families/me/leave', 'post', ['400', '401', '403', '409', '413', '415', '503']],
  ['/api/v1/sync', 'get', ['400', '401', '403', '409', '422', '429', '503']],
  ['/api/v1/sync', 'post', ['400', '401', '403', '409', '413', '415', '422', '429', '503']],
  ['/api/v1/sync/events', 'get', ['401', '403', '503']],
  ['/api/v1/upload', 'post', ['400', '401', '403', '404', '409', '413', '415', '503']],
  ['/api/v1/upload/limits', 'get', ['401', '403', '503']],
  ['/api/v1/files/{id}', 'get', ['400', '401', '403', '404', '412', '416', '503']],
  ['/api/v1/files/{id}', 'head', ['400', '401', '403', '404', '412', '503']],
] as const;

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
  responses?: Record<string, { description?: string }>;
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

  /**
   * README's "API overview" table, the first thing a client developer reads, against the routes Nest
   * serves: every route listed once, none that does not exist, and its auth column the guards that
   * really run ("—" none, "bearer" the JWT guard alone, "family" the family guard too, "owner" a
   * family route whose document names the OWNER_ONLY refusal).
   */
  it("README's API overview lists exactly the routes served, each with the auth its guards apply", () => {
    const readme = readFileSync('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('\n## API overview\n'), readme.indexOf('\n"bearer" = '));
    const listed = table
      .split('\n')
      .filter((line) => /^\| `/.test(line))
      .flatMap((line) => {
        const [routeCell, auth] = line.replace(/^\| /, '').split(' | ').map((c) => c.trim()) as [string, string];
        const [, methods, path] = /^((?:`[A-Z]+`\/)*`[A-Z]+) ([^`]+)`$/.exec(routeCell) ?? [];
        if (!methods) throw new Error(`README.md: an API overview row this test cannot read: ${line}`);
        return methods.replace(/`/g, '').split('/').map((method) => ({ route: `${method} ${path.replace(/:(\w+)/g, '{$1}')}`, auth }));
      })
      .sort((x, y) => x.route.localeCompare(y.route));
    expect(listed.map((r) => r.route)).toEqual(served.map((r) => r.route));
    const guarded = (r: (typeof served)[number]) => {
      if (!r.guards.includes('JwtAuthGuard')) return '—';
      if (!r.guards.includes('FamilyGuard')) return 'bearer';
      const [method, path] = r.route.split(' ');
      const forbidden = doc.paths[path][method.toLowerCase() as (typeof METHODS)[number]]!.responses?.['403']?.description ?? '';
      return /OWNER_ONLY/.test(forbidden) ? 'owner' : 'family';
    };
    expect(listed.map((r) => `${r.route}: ${r.auth}`)).toEqual(served.map((r) => `${r.route}: ${guarded(r)}`));
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
      if (r.method === 'head') continue; // the GET's answer without its body
      expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized', message: expect.any(String), details: { code: 'UNAUTHENTICATED' } });
    }
  });

  it('every 401 UNAUTHENTICATED has the one message the JWT guard answers (a sign-in ended mid-request said "Authentication required")', async () => {
    const messages = new Set<string>();
    for (const r of routes.filter((route) => route.auth && route.method !== 'head')) {
      const url = r.path.replace(/\{[^}]+\}/g, randomUUID());
      messages.add((await http()[r.method as (typeof METHODS)[number]](url).set('Authorization', 'Bearer not.a.jwt')).body.message);
    }
    // A token that verifies for a user the guard no longer finds (deleted account).
    const { access_token: token } = (await http().post('/api/v1/auth/register').send({ email: `gone-${randomUUID()}@example.test`, password: 'correct horse battery' }).expect(201)).body;
    await http().delete('/api/v1/auth/me').set('Authorization', `Bearer ${token}`).send({ password: 'correct horse battery' }).expect(204);
    messages.add((await http().get('/api/v1/families/me').set('Authorization', `Bearer ${token}`).expect(401)).body.message);
    const noUser = { switchToHttp: () => ({ getRequest: () => ({}) }) } as never;
    const thrown = [signedOut(), AuthErrors.unauthenticated(), (() => { try { new FamilyGuard().canActivate(noUser); } catch (error) { return error as DomainError; } throw new Error('FamilyGuard let a request without a user through'); })()];
    expect(thrown.map((e) => e.code)).toEqual([ErrorCode.UNAUTHENTICATED, ErrorCode.UNAUTHENTICATED, ErrorCode.UNAUTHENTICATED]);
    for (const e of thrown) messages.add(e.message);
    expect([...messages]).toEqual(['Unauthorized']);
  });

  it("every bearer route's 401 describes the token's (its sign-in's) refusal, not only the route's own 401s", () => {
    // Found by review: POST /families/me/owner's own 401 (a wrong password) replaced @FamilyScoped's in the
    // document (a class decorator's response is overridden by the method's, not merged), so the hand-over
    // did not document UNAUTHENTICATED: a token refused, or a sign-in ended while it was confirmed. The download's
    // own 401 did the same, saying only "missing, invalid or expired": a signed-out phone's cached file is refused too.
    const undocumented = routes
      .filter((r) => r.auth)
      .filter((r) => !/access token.*sign-in has ended/.test(doc.paths[r.path][r.method as (typeof METHODS)[number]]!.responses?.['401']?.description ?? ''))
      .map((r) => r.route);
    expect(undocumented).toEqual([]);
  });

  it('documents the properties of every request and response DTO', () => {
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas.RegisterDto.properties ?? {}).sort()).toEqual(['email', 'invite_code', 'name', 'password']);
    expect(schemas.RegisterDto.required?.sort()).toEqual(['email', 'password']);
    expect(Object.keys(schemas.LoginDto.properties ?? {}).sort()).toEqual(['email', 'password']);
    expect(Object.keys(schemas.JoinFamilyDto.properties ?? {})).toEqual(['invite_code']);
    expect(Object.keys(schemas.RefreshDto.properties ?? {})).toEqual(['refresh_token']);
    expect(Object.keys(schemas.ChangePasswordDto.properties ?? {}).sort()).toEqual(['current_password', 'new_password']);
    expect(schemas.ChangePasswordDto.required?.sort()).toEqual(['current_password', 'new_password']);
    expect(Object.keys(schemas.ForgotPasswordDto.properties ?? {})).toEqual(['email']);
    expect(Object.keys(schemas.ResetPasswordDto.properties ?? {}).sort()).toEqual(['new_password', 'token']);
    expect(schemas.ResetPasswordDto.required?.sort()).toEqual(['new_password', 'token']);
    expect(Object.keys(schemas.ForgotPasswordResponse.properties ?? {}).sort()).toEqual(['expires_in', 'message']);
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
    ['ChangePasswordDto', 'current_password'],
    ['ChangePasswordDto', 'new_password'],
    ['ForgotPasswordDto', 'email'],
    ['ResetPasswordDto', 'token'],
    ['ResetPasswordDto', 'new_password'],
    ['ForgotPasswordResponse', 'message'],
    ['ForgotPasswordResponse', 'expires_in'],
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

  it('the health check\'s latencyMs is documented as what it times (it said `SELECT 1`, a statement the check no longer runs)', () => {
    const latency = (doc.components.schemas.HealthDatabaseStatus.properties ?? {}).latencyMs as { description?: string };
    expect(latency.description).not.toMatch(/SELECT 1/);
    expect(latency.description).toMatch(/standby/);
  });

  it('the sync cursors and schema_version are documented as the integers they must be (they said "number": 1.5 answers 400)', () => {
    type Parameter = { name: string; in: string; schema: { type?: string } };
    const parameters = (method: 'get' | 'post') => (doc.paths['/api/v1/sync'][method] as unknown as { parameters: Parameter[] }).parameters;
    const types = [
      ...parameters('get').filter((p) => p.in === 'query' && p.name !== 'migration').map((p) => [`GET ${p.name}`, p.schema.type]),
      ...parameters('post').filter((p) => p.in === 'query').map((p) => [`POST ${p.name}`, p.schema.type]),
      ['SyncPushBodyDto.lastPulledAt', (doc.components.schemas.SyncPushBodyDto.properties!.lastPulledAt as { type?: string }).type],
    ];
    expect(types).toEqual([
      ['GET last_pulled_at', 'integer'],
      ['GET schema_version', 'integer'],
      ['POST last_pulled_at', 'integer'],
      ['SyncPushBodyDto.lastPulledAt', 'integer'],
    ]);
  });

  it('ms dates, sync cursors and byte counts are documented as int64 integers, other counts as integers (they said "number": a generated client typed the pull\'s timestamp as a double, and sent it back as a last_pulled_at the server refuses)', () => {
    type Property = { type?: string; format?: string; allOf?: unknown };
    const wide = /^(created_at|updated_at|timestamp|lastPulledAt|last_pulled_at|patient_birth_date|size_bytes|max_bytes|stored_bytes|max_file_bytes|family_(max|stored|available)_bytes)$/;
    const counts = /^(expires_in|statusCode|retryAfterSeconds|max_records|stored_records|new_records)$/;
    const found = Object.entries(doc.components.schemas as Record<string, { properties?: Record<string, Property> }>).flatMap(([schema, s]) =>
      Object.entries(s.properties ?? {})
        .filter(([name]) => wide.test(name) || counts.test(name))
        .map(([name, p]) => ({ property: `${schema}.${name}`, type: p.type, format: p.format })),
    );
    const cursors = (['get', 'post'] as const).map((method) => {
      const parameter = (doc.paths['/api/v1/sync'][method] as unknown as { parameters: Array<{ name: string; schema: Property }> }).parameters.find((p) => p.name === 'last_pulled_at')!;
      return { property: `${method.toUpperCase()} /api/v1/sync last_pulled_at`, type: parameter.schema.type, format: parameter.schema.format };
    });
    expect(found.length).toBeGreaterThanOrEqual(25);
    expect([...found, ...cursors]).toEqual(
      [...found, ...cursors].map(({ property }) => ({ property, type: 'integer', format: wide.test(property.split(/[. ]/).pop()!) ? 'int64' : undefined })),
    );
  });

  it('schema_version is documented as what it does (it leaves out newer tables and columns), not as informational', () => {
    const op = doc.paths['/api/v1/sync'].get as unknown as { parameters: Array<{ name: string; description?: string }> };
    const description = op.parameters.find((p) => p.name === 'schema_version')?.description ?? '';
    expect(description).not.toMatch(/informational/i);
    expect(description).toMatch(/left out/);
  });

  it('every successful response of an auth/families route documents its body schema', () => {
    for (const r of routes.filter((x) => /^\/api\/v1\/(auth|families)(\/|$)/.test(x.path))) {
      const op = doc.paths[r.path][r.method as (typeof METHODS)[number]]! as Operation & { responses: Record<string, { content?: unknown }> };
      const ok = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
      expect({ route: r.route, ok: ok.length }).toEqual({ route: r.route, ok: 1 });
      const [status, response] = ok[0];
      if (status !== '204') expect({ route: r.route, content: Boolean(response.content) }).toEqual({ route: r.route, content: true });
    }
  });

  it('every success with a body documents its media type (the event stream\'s 200 had a description and no text/event-stream)', () => {
    const untyped = routes.flatMap((r) =>
      Object.entries((doc.paths[r.path][r.method as (typeof METHODS)[number]] as { responses: Record<string, { content?: object }> }).responses)
        .filter(([status, response]) => r.method !== 'head' && /^2/.test(status) && status !== '204' && Object.keys(response.content ?? {}).length === 0)
        .map(([status]) => `${r.route} ${status}`),
    );
    expect(untyped).toEqual([]);
    const stream = (doc.paths['/api/v1/sync/events'].get as { responses: Record<string, { content?: Record<string, { example?: string }> }> }).responses['200'];
    expect(Object.keys(stream.content ?? {})).toEqual(['text/event-stream']);
    expect(stream.content!['text/event-stream'].example).toMatch(/^event: sync\nid: (\d+)\ndata: \{"version":\1\}\n\n/);
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

    type PropertySchema = { type?: string; nullable?: boolean; enum?: unknown[]; items?: { $ref?: string; type?: string }; additionalProperties?: unknown; description?: string };
    const errorDetails = () => doc.components.schemas.ErrorDetails.properties as Record<string, PropertySchema>;

    /**
     * The details of every error the code raises with keys of its own, from the same factories the
     * services call (one sample each). The filter answers `{ code, ...details }`.
     */
    const raised: Array<[string, DomainError]> = [
      ['invalidRequest', invalidRequest([{ field: 'email', errors: ['email must be an email'] }])],
      ['invalidField', invalidField('userId', 'userId must be a UUID')],
      ['body too large', bodyParserError({ status: 413, type: 'entity.too.large', limit: 1024 }, { headers: {}, originalUrl: '/api/v1/auth/login' } as never) as DomainError],
      ['membershipChanged', membershipChanged()],
      ['StorageUnavailableError', new StorageUnavailableError('GetObject: connect ECONNREFUSED 10.0.0.5:9000 (3 attempts)')],
      ['AuthErrors.rateLimited', AuthErrors.rateLimited(42)],
      ['AuthErrors.passwordUnchanged', AuthErrors.passwordUnchanged()],
      ['AuthErrors.invalidResetToken', AuthErrors.invalidResetToken()],
      ['AuthErrors.passwordResetUnavailable', AuthErrors.passwordResetUnavailable()],
      ['DocumentsErrors.documentFieldsMissing', DocumentsErrors.documentFieldsMissing(['name'])],
      ['DocumentsErrors.invalidUpload', DocumentsErrors.invalidUpload('Unknown field "x"', 'x')],
      ['DocumentsErrors.fileTooLarge', DocumentsErrors.fileTooLarge(1024)],
      ['DocumentsErrors.storageQuotaExceeded', DocumentsErrors.storageQuotaExceeded(10 * 1024 ** 3, 10 * 1024 ** 3 - 5)],
      ['DocumentsErrors.typeNotAllowed', DocumentsErrors.typeNotAllowed('image/heic', ['application/pdf'])],
      ['DocumentsErrors.typeNotAllowed (unknown type)', DocumentsErrors.typeNotAllowed(null, ['application/pdf'])],
      ['FamiliesErrors.ownerCannotRemoveSelf', FamiliesErrors.ownerCannotRemoveSelf()],
      ['FamiliesErrors.ownerAlready', FamiliesErrors.ownerAlready()],
      ['SyncErrors.invalid', SyncErrors.invalid([{ table: 'transfusions', id: randomUUID(), field: 'volume_ml', message: 'must be a number' }, { table: 'reminders', id: null, field: 'id', message: 'is required' }])],
      ['SyncErrors.invalidParameter', SyncErrors.invalidParameter('X-Device-Id', 'must be 1-200 printable ASCII characters')],
      ['SyncErrors.forbidden', SyncErrors.forbidden({ transfusions: [randomUUID()] })],
      ['SyncErrors.membershipChanged', SyncErrors.membershipChanged()],
      ['SyncErrors.cursorAhead', SyncErrors.cursorAhead(2, 1)],
      ['SyncErrors.conflict', SyncErrors.conflict({ transfusions: [randomUUID()] })],
      ['assertRecordRoom (RECORD_QUOTA_EXCEEDED)', thrown(() => assertRecordRoom({ recordCount: 999_999 }, 3, 1_000_000))],
    ];

    /** The error `check` throws (one that throws instead of building its error: assertRecordRoom). */
    function thrown(check: () => void): DomainError {
      try {
        check();
      } catch (error) {
        return error as DomainError;
      }
      throw new Error('expected the check to throw');
    }

    /** Does `value` have the documented type of a details property? */
    function fits(schema: PropertySchema, value: unknown): boolean {
      if (value === null) return schema.nullable === true;
      if (schema.enum && !schema.enum.includes(value)) return false;
      switch (schema.type) {
        case 'array':
          return Array.isArray(value);
        case 'object':
          return typeof value === 'object' && !Array.isArray(value);
        case 'integer':
          return Number.isInteger(value);
        default:
          return typeof value === schema.type;
      }
    }

    it.each(raised)('ErrorDetails documents every key of %s, with its type', (_, error) => {
      expect(error).toBeInstanceOf(DomainError);
      const details = { code: error.code, ...(error.details as Record<string, unknown> | undefined) };
      const documented = errorDetails();
      const misfits = Object.entries(details)
        .filter(([key, value]) => !documented[key] || !fits(documented[key], value))
        .map(([key, value]) => ({ key, value, documented: documented[key] ?? 'missing' }));
      expect(misfits).toEqual([]);
    });

    it('ErrorDetails documents the keys of sync, membership and upload errors (found missing by review), each saying when it is present', () => {
      const documented = errorDetails();
      for (const key of ['code', 'fields', 'retryAfterSeconds', 'max_bytes', 'table', 'id', 'field', 'errors', 'conflicts', 'ids', 'membership_changed', 'detected', 'allowed', 'stored_bytes']) {
        expect({ key, documented: Boolean(documented[key]), described: Boolean(documented[key]?.description) }).toEqual({ key, documented: true, described: true });
      }
      expect(documented.errors.items).toEqual({ $ref: '#/components/schemas/SyncFieldError' });
      expect(doc.components.schemas.SyncFieldError.required?.sort()).toEqual(['field', 'id', 'message', 'table']);
      for (const key of ['conflicts', 'ids']) {
        expect(documented[key]).toMatchObject({ type: 'object', additionalProperties: { type: 'array', items: { type: 'string', format: 'uuid' } } });
      }
      expect(documented.membership_changed.type).toBe('boolean');
      expect(documented.detected).toMatchObject({ type: 'string', nullable: true });
      expect(documented.allowed).toMatchObject({ type: 'array', items: { type: 'string' } });
    });

    it('the push and the upload document their 413 RECORD_QUOTA_EXCEEDED (SYNC_FAMILY_MAX_RECORDS), and ErrorDetails its keys (found missing by review)', () => {
      for (const [path, method] of [['/api/v1/sync', 'post'], ['/api/v1/upload', 'post']] as const) {
        const tooLarge = responses(path, method)['413'] as { description?: string };
        expect({ route: `${method} ${path}`, quota: /RECORD_QUOTA_EXCEEDED/.test(tooLarge.description ?? '') }).toEqual({ route: `${method} ${path}`, quota: true });
      }
      for (const key of ['max_records', 'stored_records', 'new_records']) {
        expect({ key, described: /RECORD_QUOTA_EXCEEDED/.test(errorDetails()[key]?.description ?? '') }).toEqual({ key, described: true });
      }
    });

    it('503 SERVER_BUSY is documented as carrying details and Retry-After (not "absent on 5xx", not "429 only")', () => {
      const details = (doc.components.schemas.ErrorResponse.properties as Record<string, PropertySchema>).details;
      expect(details.description).toMatch(/SERVER_BUSY/);
      expect(details.description).not.toMatch(/absent on 5xx/);
      expect(errorDetails().retryAfterSeconds.description).toMatch(/429/);
      expect(errorDetails().retryAfterSeconds.description).toMatch(/503 SERVER_BUSY/);
      expect(errorDetails().code.description).toMatch(/SERVER_BUSY/);
    });

    it('503 DATABASE_UNAVAILABLE is documented as carrying details.code and retryAfterSeconds, as the filter answers it', () => {
      const details = (doc.components.schemas.ErrorResponse.properties as Record<string, PropertySchema>).details;
      expect(details.description).toMatch(/DATABASE_UNAVAILABLE/);
      expect(errorDetails().code.description).toMatch(/DATABASE_UNAVAILABLE/);
      expect(errorDetails().retryAfterSeconds.description).toMatch(/503 DATABASE_UNAVAILABLE/);
    });

    it('upload and download document 503 STORAGE_UNAVAILABLE (JSON, Retry-After) besides DATABASE_UNAVAILABLE, and ErrorDetails says so', () => {
      for (const [path, method] of [['/api/v1/upload', 'post'], ['/api/v1/files/{id}', 'get']] as const) {
        const unavailable = responses(path, method)['503'] as { headers?: Record<string, unknown>; description?: string; content?: Record<string, unknown> };
        expect({
          route: `${method} ${path}`,
          storage: /STORAGE_UNAVAILABLE/.test(unavailable.description ?? ''),
          database: /DATABASE_UNAVAILABLE/.test(unavailable.description ?? ''),
          retryAfter: Boolean(unavailable.headers?.['Retry-After']),
          content: Object.keys(unavailable.content ?? {}),
        }).toEqual({ route: `${method} ${path}`, storage: true, database: true, retryAfter: true, content: ['application/json'] });
      }
      expect(errorDetails().code.description).toMatch(/STORAGE_UNAVAILABLE/);
      expect(errorDetails().retryAfterSeconds.description).toMatch(/503 STORAGE_UNAVAILABLE/);
      expect((doc.components.schemas.ErrorResponse.properties as Record<string, PropertySchema>).details.description).toMatch(/STORAGE_UNAVAILABLE/);
    });

    it("the download's 503 describes a download, not an upload (it said an upload found too little disk space and nothing was recorded)", () => {
      const download = (responses('/api/v1/files/{id}', 'get')['503'] as { description?: string }).description ?? '';
      const upload = (responses('/api/v1/upload', 'post')['503'] as { description?: string }).description ?? '';
      expect(download).not.toMatch(/upload|UPLOAD_MIN_FREE_BYTES|recorded/);
      expect(download).toMatch(/STORAGE_DRIVER=s3.*STORAGE_UNAVAILABLE.*cuts the connection/);
      expect(upload).toMatch(/UPLOAD_MIN_FREE_BYTES.*nothing was recorded/);
    });

    it('ErrorDetails.fields names every 422 that carries it (change-password, the owner hand-over, the owner removing themselves)', () => {
      const described = errorDetails().fields.description ?? '';
      for (const route of ['change-password', '/families/me/owner', '/families/me/members/{userId}']) expect({ route, described: described.includes(route) }).toEqual({ route, described: true });
    });

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

    /**
     * Every error status each route really answers, and no other (a review found routes answering
     * 409, 415 and 503 that the document did not list). A route's new failure belongs here.
     */
    it.each(ERROR_STATUSES)('%s %s documents exactly its errors %j, with the error schema', (path, method, statuses) => {
      const documented = responses(path, method);
      expect(Object.keys(documented).filter((status) => Number(status) >= 400).sort()).toEqual([...statuses]);
      for (const status of statuses) {
        expect({ status, schema: documented[status]?.content?.['application/json']?.schema?.$ref }).toEqual({
          status,
          schema: '#/components/schemas/ErrorResponse',
        });
      }
    });

    it('ERROR_STATUSES lists every route of the document', () => {
      const listed = ERROR_STATUSES.map(([path, method]) => `${method.toUpperCase()} ${path}`).sort();
      expect(listed).toEqual(routes.map((r) => r.route));
    });

    it('every route with a JSON body documents 400, 413 and 415 (JsonBodyMiddleware answers them before any handler)', () => {
      const withBody = routes.filter((r) => doc.paths[r.path][r.method as (typeof METHODS)[number]]!.requestBody?.content['application/json']);
      expect(withBody.length).toBeGreaterThanOrEqual(7);
      for (const r of withBody) {
        const documented = Object.keys(responses(r.path, r.method as (typeof METHODS)[number]));
        expect({ route: r.route, statuses: ['400', '413', '415'].filter((s) => documented.includes(s)) }).toEqual({ route: r.route, statuses: ['400', '413', '415'] });
      }
    });

    it('every bearer route documents 401, and every route behind the rate limit documents 429 with Retry-After', () => {
      for (const r of routes.filter((x) => x.auth)) expect({ route: r.route, has401: '401' in responses(r.path, r.method as (typeof METHODS)[number]) }).toEqual({ route: r.route, has401: true });
      const limited = served.filter((r) => r.guards.includes('AuthRateLimitGuard')).map((r) => r.route);
      expect(limited.length).toBeGreaterThanOrEqual(3);
      for (const route of routes.filter((x) => limited.includes(x.route))) {
        const tooMany = responses(route.path, route.method as (typeof METHODS)[number])['429'] as { headers?: Record<string, unknown> } | undefined;
        expect({ route: route.route, retryAfter: Boolean(tooMany?.headers?.['Retry-After']) }).toEqual({ route: route.route, retryAfter: true });
      }
      const busy = responses('/api/v1/sync', 'get')['503'] as { headers?: Record<string, unknown>; description?: string };
      expect(busy.headers).toHaveProperty('Retry-After');
      expect(busy.description).toMatch(/SERVER_BUSY/);
    });

    it('every route but /health documents 503 DATABASE_UNAVAILABLE with Retry-After (each reads the database; a route with a 503 of its own names both)', () => {
      const others = routes.filter((r) => r.path !== '/health');
      expect(others.length).toBeGreaterThanOrEqual(20);
      for (const r of others) {
        const unavailable = responses(r.path, r.method as (typeof METHODS)[number])['503'] as { headers?: Record<string, unknown>; description?: string } | undefined;
        expect({ route: r.route, database: /DATABASE_UNAVAILABLE/.test(unavailable?.description ?? ''), retryAfter: Boolean(unavailable?.headers?.['Retry-After']) }).toEqual({
          route: r.route,
          database: true,
          retryAfter: true,
        });
      }
      expect((responses('/api/v1/auth/forgot-password', 'post')['503'] as { description: string }).description).toMatch(/PASSWORD_RESET_UNAVAILABLE/);
    });

    it('change-password documents both of its 401s (wrong current password, no valid token) and its 422', () => {
      const documented = responses('/api/v1/auth/change-password', 'post') as Record<string, { description?: string }>;
      expect(documented['401'].description).toMatch(/INVALID_CREDENTIALS/);
      expect(documented['401'].description).toMatch(/access token/);
      expect(documented['422'].description).toMatch(/new_password/);
    });

    it('forgot-password documents its 202 and its 503 PASSWORD_RESET_UNAVAILABLE; reset-password its 401 INVALID_RESET_TOKEN', () => {
      const forgot = responses('/api/v1/auth/forgot-password', 'post') as Record<string, { description?: string; content?: { 'application/json'?: { schema?: { $ref?: string } } } }>;
      expect(forgot['202'].content?.['application/json']?.schema?.$ref).toBe('#/components/schemas/ForgotPasswordResponse');
      expect(forgot['503'].description).toMatch(/PASSWORD_RESET_UNAVAILABLE/);
      const reset = responses('/api/v1/auth/reset-password', 'post') as Record<string, { description?: string }>;
      expect(reset['401'].description).toMatch(/INVALID_RESET_TOKEN/);
    });

    it('the 409 of the routes that re-check membership names MEMBERSHIP_CHANGED', () => {
      for (const [path, method] of [
        ['/api/v1/auth/me', 'get'],
        ['/api/v1/auth/join-family', 'post'],
        ['/api/v1/families', 'post'],
        ['/api/v1/families/me', 'get'],
        ['/api/v1/families/me', 'patch'],
        ['/api/v1/families/me/invite-code', 'post'],
        ['/api/v1/families/me/members/{userId}', 'delete'],
        ['/api/v1/upload', 'post'],
      ] as const) {
        const conflict = responses(path, method)['409'] as { description?: string } | undefined;
        expect({ path, method, description: conflict?.description }).toEqual({ path, method, description: expect.stringMatching(/MEMBERSHIP_CHANGED/) });
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
      // The document an upload made (found undocumented by review: a plain string).
      expect((schemas.UploadedDocumentResponse.properties.id as { format?: string }).format).toBe('uuid');
    });

    it('the download documents every request header it honours (If-Range was missing: README, Downloads)', () => {
      const file = doc.paths['/api/v1/files/{id}'].get as unknown as { parameters: Array<{ name: string; in: string }> };
      const headers = file.parameters.filter((p) => p.in === 'header').map((p) => p.name).sort();
      expect(headers).toEqual(['If-Match', 'If-Modified-Since', 'If-None-Match', 'If-Range', 'If-Unmodified-Since', 'Range']);
    });

    it('the headers every such answer carries are documented as required: Retry-After of each 429, Location and ETag of an upload', () => {
      type Headers = Record<string, { required?: boolean }>;
      const responsesWithHeaders = (path: string, method: (typeof METHODS)[number]) => responses(path, method) as unknown as Record<string, { headers?: Headers }>;
      const limited = routes.filter((r) => '429' in responsesWithHeaders(r.path, r.method as (typeof METHODS)[number]));
      expect(limited.length).toBeGreaterThanOrEqual(8);
      expect(limited.filter((r) => !responsesWithHeaders(r.path, r.method as (typeof METHODS)[number])['429'].headers?.['Retry-After']?.required).map((r) => r.route)).toEqual([]);
      const created = responsesWithHeaders('/api/v1/upload', 'post')['201'].headers ?? {};
      expect({ Location: created.Location?.required, ETag: created.ETag?.required }).toEqual({ Location: true, ETag: true });
    });

    it('the download documents the headers a client keeps to resume or revalidate (it documented If-Match and If-Range, not the ETag they echo)', () => {
      type Headers = Record<string, { required?: boolean }>;
      const file = doc.paths['/api/v1/files/{id}'] as unknown as Record<'get' | 'head', { responses: Record<string, { headers?: Headers }> }>;
      const required = (method: 'get' | 'head', status: string) =>
        Object.entries(file[method].responses[status].headers ?? {}).filter(([, h]) => h.required).map(([name]) => name).sort();
      const kept = ['Accept-Ranges', 'Cache-Control', 'Content-Disposition', 'ETag', 'Last-Modified'];
      expect({
        'GET 200': required('get', '200'), 'GET 206': required('get', '206'), 'GET 304': required('get', '304'), 'HEAD 200': required('head', '200'), 'HEAD 304': required('head', '304'),
      }).toEqual({ 'GET 200': kept, 'GET 206': [...kept, 'Content-Range'].sort(), 'GET 304': kept, 'HEAD 200': kept, 'HEAD 304': kept });
      // A range past the end: the size, to ask again (RFC 9110 §15.5.17).
      expect(required('get', '416')).toEqual(['Content-Range']);
    });
  });

  describe('documented constraints hold on the real app', () => {
    type HeaderParameter = { name: string; in: string; schema: { type?: string; maxLength?: number; pattern?: string } };
    const deviceIdHeaders = () =>
      routes.flatMap((r) => {
        const op = doc.paths[r.path][r.method as (typeof METHODS)[number]] as unknown as { parameters?: HeaderParameter[] };
        return (op.parameters ?? []).filter((p) => p.in === 'header' && p.name.toLowerCase() === 'x-device-id').map((p) => ({ route: r.route, header: p }));
      });
    let token: string;

    beforeAll(async () => {
      const res = await http().post('/api/v1/auth/register').send({ email: `docs-${randomUUID()}@example.test`, password: 'correct horse battery' }).expect(201);
      token = res.body.access_token;
    });

    it('X-Device-Id is documented with its limits (maxLength 200, printable ASCII) on the routes that read it, and only there', () => {
      const declared = deviceIdHeaders();
      expect(declared.map((d) => d.route).sort()).toEqual(['GET /api/v1/sync', 'POST /api/v1/sync']);
      for (const { route, header } of declared) {
        expect({ route, schema: header.schema }).toEqual({ route, schema: { type: 'string', maxLength: 200, pattern: expect.any(String) } });
        const pattern = new RegExp(header.schema.pattern!);
        expect(['phone-1', '!'.repeat(200), randomUUID()].filter((v) => !pattern.test(v))).toEqual([]);
        expect(['a'.repeat(201), 'two words', 'tab\there', 'café'].filter((v) => pattern.test(v))).toEqual([]);
      }
    });

    it('a pull answers 422 for exactly the X-Device-Id values the documented pattern refuses', async () => {
      const pattern = new RegExp(deviceIdHeaders()[0].header.schema.pattern!);
      for (const value of ['a'.repeat(200), 'a'.repeat(201), 'two words', '~ok~']) {
        const res = await http().get('/api/v1/sync').set('Authorization', `Bearer ${token}`).set('X-Device-Id', value);
        const expected = pattern.test(value) ? 200 : 422;
        expect({ value, status: res.status }).toEqual({ value, status: expected });
        if (expected === 422) expect(res.body.details).toEqual({ code: 'VALIDATION_FAILED', field: 'X-Device-Id' });
      }
    });

    it('a pull\'s migration is bounded by the 16 KB request head its description gives (431 past it), and its maxLength is that bound', async () => {
      const op = doc.paths['/api/v1/sync'].get as unknown as { parameters: Array<{ name: string; description?: string; schema: { maxLength?: number } }> };
      const migration = op.parameters.find((p) => p.name === 'migration')!;
      expect(migration.description).toMatch(/16 KB[^.]*431/);
      const query = (tables: string) => `/api/v1/sync?schema_version=2&migration=${encodeURIComponent(JSON.stringify({ from: 1, tables: [tables], columns: [] }))}`;
      expect((await http().get(query('t'.repeat(15_000))).set('Authorization', `Bearer ${token}`)).status).toBe(200);
      // Its maxLength is the head's limit, not a number no request can reach (it said 100000): one character more answers 431.
      expect(migration.schema.maxLength).toBe(16 * 1024);
      const tooLong = query('t'.repeat(migration.schema.maxLength! - 36));
      expect(decodeURIComponent(tooLong.slice(tooLong.indexOf('migration=') + 10)).length).toBe(migration.schema.maxLength! + 1);
      expect((await http().get(tooLong).set('Authorization', `Bearer ${token}`)).status).toBe(431);
    });

    it('a push\'s table schema requires none of created/updated/deleted, as the server takes a table with only created; the pull\'s answer has all three', async () => {
      const schemas = doc.components.schemas as Record<string, { properties?: Record<string, { additionalProperties?: { $ref?: string } }>; required?: string[] }>;
      const pushTable = schemas.SyncPushBodyDto.properties!.changes.additionalProperties!.$ref!.split('/').pop()!;
      expect(Object.keys(schemas[pushTable].properties ?? {}).sort()).toEqual(['created', 'deleted', 'updated']);
      expect(schemas[pushTable].required ?? []).toEqual([]);
      const pullTable = schemas.SyncPullResponse.properties!.changes.additionalProperties!.$ref!.split('/').pop()!;
      expect(schemas[pullTable].required?.sort()).toEqual(['created', 'deleted', 'updated']);
      const me = ((await http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`).expect(200)).body as { user: { family_id: string } }).user;
      const id = randomUUID();
      const pushed = await http().post('/api/v1/sync').set('Authorization', `Bearer ${token}`).send({
        changes: { blood_tests: { created: [{ id, family_id: me.family_id, created_at: 1, updated_at: 1, date: 1700000000000 }] } },
      });
      expect({ status: pushed.status, code: pushed.body.details?.code }).toEqual({ status: 200, code: undefined });
      const pulled = await http().get('/api/v1/sync').set('Authorization', `Bearer ${token}`).expect(200);
      expect(pulled.body.changes.blood_tests.created.map((r: { id: string }) => r.id)).toContain(id);
    });

    it('the sync cursors and schema_version take decimal digits only (0x10 was read as 16, 1e3 as 1000), and schema_version has a documented maximum', async () => {
      const op = doc.paths['/api/v1/sync'].get as unknown as { parameters: Array<{ name: string; schema: { maximum?: number } }> };
      const maximum = op.parameters.find((p) => p.name === 'schema_version')!.schema.maximum!;
      expect(maximum).toBe(2 ** 31 - 1);
      const auth = { Authorization: `Bearer ${token}` };
      // A value read as a cursor may still be refused for what it says (a push from before the family's history: 409); never as a 400.
      const answers: Array<{ param: string; value: string; status: number | string; fields?: string[] }> = [];
      const record = (param: string, value: string, res: request.Response) =>
        answers.push({ param, value, ...(res.status === 400 ? { status: 400, fields: res.body.details.fields.map((f: { field: string; errors: string[] }) => `${f.field}: ${f.errors.join('; ')}`) } : { status: res.status < 500 ? 'read' : res.status }) });
      const refused = ['0x10', '1e3', ' 5', '+5', '1.0', '-0', '0b1', '99999999999999999999'];
      for (const value of [...refused, '16', '007', 'null']) {
        record('GET last_pulled_at', value, await http().get('/api/v1/sync').query({ last_pulled_at: value }).set(auth));
        record('POST last_pulled_at', value, await http().post('/api/v1/sync').query({ last_pulled_at: value }).set(auth).send({ changes: {} }));
      }
      for (const value of [...refused, String(maximum + 1), '1', '007', String(maximum)]) {
        record('GET schema_version', value, await http().get('/api/v1/sync').query({ schema_version: value }).set(auth));
      }
      // One message, the one that says what is wrong: not also the range rules a string cannot meet
      // (0x10 said "must not be greater than 9007199254740991; must not be less than 0; …").
      const fieldOf = (param: string, value: string) => {
        const field = param.split(' ')[1];
        const most = field === 'schema_version' ? maximum : Number.MAX_SAFE_INTEGER;
        return /^[0-9]+$/.test(value) ? `${field}: ${field} must not be greater than ${most}` : `${field}: ${field} must be an integer written in decimal digits`;
      };
      expect(answers).toEqual(
        answers.map(({ param, value }) =>
          refused.includes(value) || value === String(maximum + 1)
            ? { param, value, status: 400, fields: [fieldOf(param, value)] }
            : { param, value, status: 'read' },
        ),
      );
    });

    it('a route that takes no body refuses one with properties (400 naming them, as an unknown field anywhere), and says so; none, or {}, goes on', async () => {
      // Found by review: leave, invite-code and a member's removal answered 204/200 to any JSON body.
      const bodyless = routes.filter((r) => r.auth && !['get', 'head'].includes(r.method) && !doc.paths[r.path][r.method as (typeof METHODS)[number]]!.requestBody);
      expect(bodyless.map((r) => r.route).sort()).toEqual(['DELETE /api/v1/families/me/members/{userId}', 'POST /api/v1/families/me/invite-code', 'POST /api/v1/families/me/leave']);
      for (const r of bodyless) {
        const description = doc.paths[r.path][r.method as (typeof METHODS)[number]]!.responses?.['400']?.description ?? '';
        expect({ route: r.route, documented: /takes none/.test(description) }).toEqual({ route: r.route, documented: true });
        const url = r.path.replace(/\{[^}]+\}/g, randomUUID());
        const res = await http()[r.method as (typeof METHODS)[number]](url).set('Authorization', `Bearer ${token}`).send({ reason: 'moving', ['x'.repeat(100)]: 1 });
        expect({ route: r.route, status: res.status, fields: res.body.details?.fields?.map((f: { field: string }) => f.field) }).toEqual({
          route: r.route, status: 400, fields: ['reason', `${'x'.repeat(64)}…`],
        });
      }
      // Still served without a body, or with an empty one.
      await http().post('/api/v1/families/me/invite-code').set('Authorization', `Bearer ${token}`).send({}).expect(200);
      await http().post('/api/v1/families/me/invite-code').set('Authorization', `Bearer ${token}`).expect(200);
    });

    it('UpdateFamilyDto.patient_blood_group documents what PATCH accepts: a blood group, null, or "" (stored as null)', async () => {
      const schema = (doc.components.schemas.UpdateFamilyDto.properties ?? {}).patient_blood_group as { enum?: unknown[]; nullable?: boolean; description?: string };
      expect(schema.nullable).toBe(true);
      expect(schema.enum).toEqual(expect.arrayContaining(['A+', 'AB-', '', null]));
      expect(schema.description).toMatch(/''/);
      for (const value of schema.enum!) {
        const res = await http().patch('/api/v1/families/me').set('Authorization', `Bearer ${token}`).send({ patient_blood_group: value });
        expect({ value, status: res.status, stored: res.body.patient_blood_group }).toEqual({ value, status: 200, stored: value === '' ? null : value });
      }
      const refused = await http().patch('/api/v1/families/me').set('Authorization', `Bearer ${token}`).send({ patient_blood_group: 'C+' });
      expect(refused.status).toBe(400);
    });

    it('every route documented with 415 for its JSON body answers 415 to a body that is not JSON', async () => {
      const withBody = routes.filter((r) => doc.paths[r.path][r.method as (typeof METHODS)[number]]!.requestBody?.content['application/json']);
      for (const r of withBody) {
        const res = await http()[r.method as (typeof METHODS)[number]](r.path).set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/plain').send('hello');
        expect({ route: r.route, status: res.status, code: res.body.details?.code }).toEqual({ route: r.route, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
      }
    });
  });

  /**
   * The document's schemas against what the routes really answer: a walk through the API (a family,
   * its patient, a push, a pull, an upload with its document, a download, tokens) and its usual
   * refusals, each JSON answer validated with ajv against the schema the document gives its route and
   * status (test/setup/openapi-schema.ts): the status is documented, no key is undocumented (a
   * documented object is closed), every required key is there, and every value has the documented
   * type, format, bounds and enum (null only where nullable). A response DTO that gains a field, or a
   * field that turns nullable, fails here rather than in a client generated from /docs.
   */
  describe('every answer matches the schema the document gives its status', () => {
    type Answer = { status: number; body: unknown; text?: string; headers: Record<string, string> };
    let contract: ResponseContract;
    beforeAll(() => {
      contract = responseContract(doc as unknown as OpenApiDocument);
    });

    const checked: Array<{ route: string; status: number; problems: string[] }> = [];

    /** An error body's statusCode is the answer's status, and its error that status's reason phrase. */
    function errorShapeProblems(res: { status: number; body: unknown }): string[] {
      const body = res.body as { statusCode?: unknown; error?: unknown } | undefined;
      if (res.status < 400 || body?.statusCode === undefined) return [];
      return [
        ...(body.statusCode === res.status ? [] : [`body.statusCode: ${String(body.statusCode)}, answered ${res.status}`]),
        ...(body.error === STATUS_CODES[res.status] ? [] : [`body.error: ${JSON.stringify(body.error)}, not ${JSON.stringify(STATUS_CODES[res.status])}`]),
      ];
    }

    /** Answers `request`, recording how its answer departs from the document (route: the document's path). */
    async function answer(
      method: (typeof METHODS)[number], path: string, route: string, prepare: (req: request.Test) => request.Test = (r) => r, client: () => ReturnType<typeof request> = http,
    ): Promise<Answer> {
      const res = await prepare(client()[method](path));
      const problems = [
        ...contract.problems(method, route, { status: res.status, body: res.body, contentType: res.headers['content-type'] }),
        ...contract.headerProblems(method, route, { status: res.status, headers: res.headers }),
        ...errorShapeProblems(res),
      ];
      checked.push({ route: `${method.toUpperCase()} ${route} ${res.status}`, status: res.status, problems });
      return { status: res.status, body: res.body, text: res.text, headers: res.headers as Record<string, string> };
    }

    beforeAll(async () => {
      const email = `walk-${randomUUID()}@example.test`;
      const password = 'correct horse battery';
      const json = (body: object) => (req: request.Test) => req.set('Content-Type', 'application/json').send(JSON.stringify(body));
      const bearer = (token: string, then: (req: request.Test) => request.Test = (r) => r) => (req: request.Test) => then(req.set('Authorization', `Bearer ${token}`));

      await answer('get', '/health', '/health');
      const owner = (await answer('post', '/api/v1/auth/register', '/api/v1/auth/register', json({ email, password, name: 'Leila' }))).body as {
        access_token: string; refresh_token: string; user: { id: string; family_id: string };
      };
      await answer('post', '/api/v1/auth/register', '/api/v1/auth/register', json({ email, password }));
      await answer('post', '/api/v1/auth/register', '/api/v1/auth/register', json({ email: 'not an email', password: 'short' }));
      await answer('post', '/api/v1/auth/login', '/api/v1/auth/login', json({ email, password }));
      await answer('post', '/api/v1/auth/login', '/api/v1/auth/login', json({ email, password: 'wrong password' }));
      await answer('get', '/api/v1/auth/me', '/api/v1/auth/me', bearer(owner.access_token));
      await answer('get', '/api/v1/auth/me', '/api/v1/auth/me');
      const family = (await answer('get', '/api/v1/families/me', '/api/v1/families/me', bearer(owner.access_token))).body as { invite_code: string };
      await answer('patch', '/api/v1/families/me', '/api/v1/families/me', bearer(owner.access_token, json({
        patient_name: 'Amira', patient_birth_date: 1523664000000, patient_weight_kg: 24.5, patient_blood_group: 'A+', patient_diagnosis: 'beta-thalassemia major', notes: 'n',
      })));
      await answer('patch', '/api/v1/families/me', '/api/v1/families/me', bearer(owner.access_token, json({ patient_blood_group: 'C+' })));
      const member = (await answer('post', '/api/v1/auth/register', '/api/v1/auth/register', json({ email: `m-${email}`, password, invite_code: family.invite_code.toLowerCase() }))).body as {
        access_token: string; user: { id: string };
      };
      await answer('post', '/api/v1/families/me/invite-code', '/api/v1/families/me/invite-code', bearer(member.access_token));
      await answer('post', '/api/v1/families/me/invite-code', '/api/v1/families/me/invite-code', bearer(owner.access_token));
      await answer('post', '/api/v1/auth/join-family', '/api/v1/auth/join-family', bearer(member.access_token, json({ invite_code: 'ZZZZZZ' })));
      const tokens = (await answer('post', '/api/v1/auth/refresh', '/api/v1/auth/refresh', json({ refresh_token: owner.refresh_token }))).body as { access_token: string };
      await answer('post', '/api/v1/auth/refresh', '/api/v1/auth/refresh', json({ refresh_token: 'not a refresh token' }));

      const device = (id: string) => (req: request.Test) => req.set('X-Device-Id', id);
      const pulled = (await answer('get', '/api/v1/sync', '/api/v1/sync', bearer(tokens.access_token, device('phone-1')))).body as { timestamp: number };
      const stamp = { family_id: owner.user.family_id, created_at: 1, updated_at: 1 };
      const testId = randomUUID();
      const transfusionId = randomUUID();
      await answer('post', `/api/v1/sync?last_pulled_at=${pulled.timestamp}`, '/api/v1/sync', bearer(tokens.access_token, (r) => json({ changes: {
        transfusions: { created: [{ id: transfusionId, ...stamp, date: 1700000000000, volume_ml: 250, indicators_before: '{"hb":7.1}' }], updated: [], deleted: [] },
        blood_tests: { created: [{ id: testId, ...stamp, date: 1700000000000 }], updated: [], deleted: [] },
        blood_test_results: { created: [{ id: randomUUID(), ...stamp, blood_test_id: testId, name: 'Hb', value: 7.2 }], updated: [], deleted: [] },
      } })(device('phone-1')(r))));
      await answer('post', `/api/v1/sync?last_pulled_at=${pulled.timestamp}`, '/api/v1/sync', bearer(tokens.access_token, json({ changes: {
        transfusions: { created: [], updated: [{ id: transfusionId, ...stamp, date: 1700000000000, volume_ml: 260, updated_at: 2 }], deleted: [] },
      } })));
      await answer('post', '/api/v1/sync', '/api/v1/sync', bearer(tokens.access_token, json({ changes: { transfusions: { created: [{ id: randomUUID(), ...stamp, date: 'yesterday' }], updated: [], deleted: [] } } })));
      await answer('get', `/api/v1/sync?last_pulled_at=${pulled.timestamp}`, '/api/v1/sync', bearer(tokens.access_token, device('phone-2')));
      // A migration sync (an app upgraded to schema 2 reading a table whole), and a phone whose cursor the server never issued (a replacement).
      const migration = encodeURIComponent(JSON.stringify({ from: 1, tables: ['transfusions'], columns: [] }));
      await answer('get', `/api/v1/sync?last_pulled_at=${pulled.timestamp}&schema_version=2&migration=${migration}`, '/api/v1/sync', bearer(tokens.access_token, device('phone-1')));
      const replaced = await answer('get', `/api/v1/sync?last_pulled_at=${pulled.timestamp - 1}`, '/api/v1/sync', bearer(tokens.access_token, device('phone-3')));
      expect((replaced.body as { experimentalStrategy?: string }).experimentalStrategy).toBe('replacement');
      // A first pull of over 1 KiB, compressed as each encoding a phone may take.
      for (const encoding of ['br', 'gzip', 'deflate', 'identity']) {
        const compressed = await answer('get', '/api/v1/sync', '/api/v1/sync', bearer(tokens.access_token, (r) => r.set('Accept-Encoding', encoding)));
        expect({ encoding, length: JSON.stringify(compressed.body).length > 1024, sent: compressed.headers['content-encoding'] }).toEqual({
          encoding, length: true, sent: ['br', 'gzip'].includes(encoding) ? encoding : undefined,
        });
      }
      await answer('get', '/api/v1/sync?last_pulled_at=soon', '/api/v1/sync', bearer(tokens.access_token));

      const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
      const upload = (await answer('post', '/api/v1/upload', '/api/v1/upload', bearer(tokens.access_token, (r) =>
        r.field('document_id', randomUUID()).field('name', 'Lab results').field('category', 'lab_result').attach('file', pdf, 'scan.pdf')))).body as { file_url: string };
      await answer('post', '/api/v1/upload', '/api/v1/upload', bearer(tokens.access_token, (r) => r.attach('file', Buffer.from('plain text'), 'notes.txt')));
      await answer('get', '/api/v1/upload/limits', '/api/v1/upload/limits', bearer(tokens.access_token));
      const download = await answer('get', upload.file_url, '/api/v1/files/{id}', bearer(tokens.access_token));
      await answer('get', upload.file_url, '/api/v1/files/{id}', bearer(tokens.access_token, (r) => r.set('Range', 'bytes=0-3')));
      await answer('get', upload.file_url, '/api/v1/files/{id}', bearer(tokens.access_token, (r) => r.set('Range', 'bytes=9999-')));
      await answer('get', upload.file_url, '/api/v1/files/{id}', bearer(tokens.access_token, (r) => r.set('If-None-Match', download.headers.etag)));
      await answer('get', upload.file_url, '/api/v1/files/{id}', bearer(tokens.access_token, (r) => r.set('If-Match', '"another"')));
      await answer('get', `/api/v1/files/${randomUUID()}`, '/api/v1/files/{id}', bearer(tokens.access_token));
      await answer('get', '/api/v1/files/not-a-uuid', '/api/v1/files/{id}', bearer(tokens.access_token));
      const head = await answer('head', upload.file_url, '/api/v1/files/{id}', bearer(tokens.access_token, (r) => r.set('Range', 'bytes=0-3')));
      expect({ status: head.status, length: head.headers['content-length'], etag: head.headers.etag }).toEqual({ status: 200, length: download.headers['content-length'], etag: download.headers.etag });
      await answer('head', upload.file_url, '/api/v1/files/{id}', bearer(tokens.access_token, (r) => r.set('If-None-Match', download.headers.etag)));
      await answer('head', upload.file_url, '/api/v1/files/{id}', bearer(tokens.access_token, (r) => r.set('If-Match', '"another"')));
      await answer('head', `/api/v1/files/${randomUUID()}`, '/api/v1/files/{id}', bearer(tokens.access_token));
      await answer('head', '/api/v1/files/not-a-uuid', '/api/v1/files/{id}', bearer(tokens.access_token));

      await answer('post', '/api/v1/auth/forgot-password', '/api/v1/auth/forgot-password', json({ email }));
      await answer('post', '/api/v1/auth/reset-password', '/api/v1/auth/reset-password', json({ token: 'x'.repeat(43), new_password: 'another password' }));
      await answer('post', '/api/v1/auth/change-password', '/api/v1/auth/change-password', bearer(tokens.access_token, json({ current_password: password, new_password: password })));
      const changed = (await answer('post', '/api/v1/auth/change-password', '/api/v1/auth/change-password', bearer(tokens.access_token, json({
        current_password: password, new_password: 'another password',
      })))).body as { access_token: string; refresh_token: string; user: { id: string } };
      await answer('post', '/api/v1/families/me/owner', '/api/v1/families/me/owner', bearer(changed.access_token, json({ user_id: changed.user.id, password: 'another password' })));
      await answer('post', '/api/v1/families/me/owner', '/api/v1/families/me/owner', bearer(changed.access_token, json({ user_id: member.user.id, password: 'another password' })));
      await answer('delete', `/api/v1/families/me/members/${changed.user.id}`, '/api/v1/families/me/members/{userId}', bearer(member.access_token));
      await answer('delete', `/api/v1/families/me/members/${randomUUID()}`, '/api/v1/families/me/members/{userId}', bearer(member.access_token));
      await answer('delete', `/api/v1/families/me/members/${changed.user.id}`, '/api/v1/families/me/members/{userId}', bearer(member.access_token));
      const relogged = (await answer('post', '/api/v1/auth/login', '/api/v1/auth/login', json({ email, password: 'another password' }))).body as { access_token: string; refresh_token: string };
      await answer('get', '/api/v1/auth/me', '/api/v1/auth/me', bearer(relogged.access_token));
      await answer('get', '/api/v1/families/me', '/api/v1/families/me', bearer(relogged.access_token));
      await answer('post', '/api/v1/families', '/api/v1/families', bearer(relogged.access_token, json({ patient_name: 'Amira' })));
      await answer('post', '/api/v1/families', '/api/v1/families', bearer(relogged.access_token, json({})));
      await answer('post', '/api/v1/families/me/leave', '/api/v1/families/me/leave', bearer(relogged.access_token));
      await answer('delete', '/api/v1/auth/me', '/api/v1/auth/me', bearer(relogged.access_token, json({ password: 'wrong password' })));
      await answer('delete', '/api/v1/auth/me', '/api/v1/auth/me', bearer(relogged.access_token, json({ password: 'another password' })));
      await answer('post', '/api/v1/auth/logout', '/api/v1/auth/logout', json({ refresh_token: relogged.refresh_token }));
      await answer('post', '/api/v1/auth/login', '/api/v1/auth/login', (r) => r.set('Content-Type', 'text/plain').send('hello'));
      await answer('post', '/api/v1/auth/login', '/api/v1/auth/login', (r) => r.set('Content-Type', 'application/json').send('{"email":'));
    });

    /**
     * What the walk above does not reach: the other successes (joining a family, a file without a
     * document, conditional GETs, the event stream, a password reset by its emailed link), and the
     * refusals of each route — a caller in no family, a member where the owner is needed, a wrong
     * password, a missing field, no token, a body not JSON or too large — and a rate-limited answer
     * (the last two on an app of their own: limited to 1 attempt, sending mail).
     */
    beforeAll(async () => {
      const password = 'correct horse battery';
      const json = (body: object) => (req: request.Test) => req.set('Content-Type', 'application/json').send(JSON.stringify(body));
      const bearer = (token: string, then: (req: request.Test) => request.Test = (r) => r) => (req: request.Test) => then(req.set('Authorization', `Bearer ${token}`));
      type Session = { access_token: string; refresh_token: string; user: { id: string; family_id: string } };
      const register = async (body: object) => (await answer('post', '/api/v1/auth/register', '/api/v1/auth/register', json({ password, ...body }))).body as Session;

      const owner = await register({ email: `owner-${randomUUID()}@example.test` });
      const { invite_code: inviteCode } = (await answer('get', '/api/v1/families/me', '/api/v1/families/me', bearer(owner.access_token))).body as { invite_code: string };
      const member = await register({ email: `member-${randomUUID()}@example.test`, invite_code: inviteCode });
      const loner = await register({ email: `loner-${randomUUID()}@example.test` });
      await answer('post', '/api/v1/auth/register', '/api/v1/auth/register', json({ email: `x-${randomUUID()}@example.test`, password, invite_code: 'ZZZZZZ' }));

      // Joining: the loner's own family (409), a code of the wrong shape (400), then the owner's family (200).
      const { invite_code: lonerCode } = (await answer('post', '/api/v1/families/me/invite-code', '/api/v1/families/me/invite-code', bearer(loner.access_token))).body as { invite_code: string };
      await answer('post', '/api/v1/auth/join-family', '/api/v1/auth/join-family', bearer(loner.access_token, json({ invite_code: lonerCode })));
      await answer('post', '/api/v1/auth/join-family', '/api/v1/auth/join-family', bearer(loner.access_token, json({ invite_code: 'short' })));
      await answer('post', '/api/v1/auth/join-family', '/api/v1/auth/join-family', bearer(loner.access_token, json({ invite_code: inviteCode })));
      // The loner leaves: a caller in no family.
      await answer('post', '/api/v1/families/me/leave', '/api/v1/families/me/leave', bearer(loner.access_token));
      const none = bearer(loner.access_token);
      await answer('get', '/api/v1/auth/me', '/api/v1/auth/me', none);
      await answer('get', '/api/v1/families/me', '/api/v1/families/me', none);
      await answer('patch', '/api/v1/families/me', '/api/v1/families/me', bearer(loner.access_token, json({ notes: 'n' })));
      await answer('post', '/api/v1/families/me/leave', '/api/v1/families/me/leave', none);
      await answer('get', '/api/v1/sync', '/api/v1/sync', none);
      await answer('post', '/api/v1/sync', '/api/v1/sync', bearer(loner.access_token, json({ changes: {} })));
      await answer('get', '/api/v1/sync/events', '/api/v1/sync/events', none);
      await answer('get', '/api/v1/upload/limits', '/api/v1/upload/limits', none);
      await answer('get', `/api/v1/files/${randomUUID()}`, '/api/v1/files/{id}', none);
      await answer('post', '/api/v1/families', '/api/v1/families', bearer(loner.access_token, json({ patient_name: 'Amira', patient_weight_kg: -1 })));

      // A member where the owner is needed; the owner's refusals.
      await answer('post', '/api/v1/families/me/invite-code', '/api/v1/families/me/invite-code', bearer(member.access_token));
      await answer('delete', `/api/v1/families/me/members/${owner.user.id}`, '/api/v1/families/me/members/{userId}', bearer(member.access_token));
      await answer('post', '/api/v1/families/me/owner', '/api/v1/families/me/owner', bearer(member.access_token, json({ user_id: owner.user.id, password })));
      await answer('delete', `/api/v1/families/me/members/${owner.user.id}`, '/api/v1/families/me/members/{userId}', bearer(owner.access_token));
      await answer('delete', '/api/v1/families/me/members/not-a-uuid', '/api/v1/families/me/members/{userId}', bearer(owner.access_token));
      await answer('post', '/api/v1/families/me/owner', '/api/v1/families/me/owner', bearer(owner.access_token, json({ user_id: member.user.id, password: 'wrong password' })));
      await answer('post', '/api/v1/families/me/owner', '/api/v1/families/me/owner', bearer(owner.access_token, json({ user_id: randomUUID(), password })));
      await answer('post', '/api/v1/families/me/owner', '/api/v1/families/me/owner', bearer(owner.access_token, json({ user_id: 'someone' })));
      await answer('post', '/api/v1/families', '/api/v1/families', bearer(owner.access_token, json({})));

      // Refusals of the account routes.
      await answer('post', '/api/v1/auth/change-password', '/api/v1/auth/change-password', bearer(member.access_token, json({ current_password: 'wrong password', new_password: 'another password' })));
      await answer('post', '/api/v1/auth/change-password', '/api/v1/auth/change-password', bearer(member.access_token, json({ new_password: 'another password' })));
      await answer('post', '/api/v1/auth/change-password', '/api/v1/auth/change-password', json({ current_password: password, new_password: 'another password' }));
      await answer('delete', '/api/v1/auth/me', '/api/v1/auth/me', bearer(member.access_token, json({})));
      await answer('post', '/api/v1/auth/refresh', '/api/v1/auth/refresh', json({}));
      await answer('post', '/api/v1/auth/logout', '/api/v1/auth/logout', json({}));
      await answer('post', '/api/v1/auth/logout', '/api/v1/auth/logout', json({ refresh_token: 'not a refresh token' }));
      await answer('post', '/api/v1/auth/forgot-password', '/api/v1/auth/forgot-password', json({ email: 'not an email' }));
      await answer('post', '/api/v1/auth/reset-password', '/api/v1/auth/reset-password', json({ new_password: 'another password' }));
      await answer('post', '/api/v1/auth/join-family', '/api/v1/auth/join-family', json({ invite_code: inviteCode }));
      await answer('post', '/api/v1/auth/login', '/api/v1/auth/login', json({ email: 'x@example.test', password: 'p'.repeat(2 * 1024 * 1024) }));

      // Refusals of sync, upload and download.
      const auth = bearer(member.access_token);
      await answer('get', '/api/v1/sync', '/api/v1/sync', bearer(member.access_token, (r) => r.set('X-Device-Id', 'two words')));
      await answer('get', '/api/v1/sync', '/api/v1/sync');
      await answer('get', '/api/v1/sync?last_pulled_at=0&schema_version=1.5', '/api/v1/sync', auth);
      await answer('post', '/api/v1/sync', '/api/v1/sync', bearer(member.access_token, json({})));
      await answer('post', '/api/v1/sync', '/api/v1/sync', bearer(member.access_token, json({ changes: { transfusions: { deleted: ['not-a-uuid'] } } })));
      await answer('post', '/api/v1/upload', '/api/v1/upload', bearer(member.access_token, (r) => r.field('name', 'x')));
      await answer('post', '/api/v1/upload', '/api/v1/upload', bearer(member.access_token, (r) =>
        r.field('document_id', randomUUID()).attach('file', Buffer.from('%PDF-1.4\n%%EOF\n'), 'scan.pdf')));
      await answer('post', '/api/v1/upload', '/api/v1/upload');
      await answer('get', '/api/v1/upload/limits', '/api/v1/upload/limits');
      await answer('get', '/api/v1/sync/events', '/api/v1/sync/events');
      await answer('get', `/api/v1/files/${randomUUID()}`, '/api/v1/files/{id}');
      await answer('post', '/api/v1/sync?last_pulled_at=soon', '/api/v1/sync', bearer(member.access_token, json({ changes: {} })));
      await answer('post', '/api/v1/upload', '/api/v1/upload', bearer(loner.access_token, (r) => r.attach('file', Buffer.from('%PDF-1.4\n%%EOF\n'), 'scan.pdf')));
      await answer('post', '/api/v1/upload', '/api/v1/upload', bearer(member.access_token, (r) =>
        r.field('family_id', randomUUID()).attach('file', Buffer.from('%PDF-1.4\n%%EOF\n'), 'scan.pdf')));
      // A file alone (no document fields: the phone makes its document record and pushes it).
      await answer('post', '/api/v1/upload', '/api/v1/upload', bearer(member.access_token, (r) => r.attach('file', Buffer.from('%PDF-1.4\n%%EOF\n'), 'alone.pdf')));
      await answer('head', `/api/v1/files/${randomUUID()}`, '/api/v1/files/{id}', none);
      await answer('head', `/api/v1/files/${randomUUID()}`, '/api/v1/files/{id}');
      for (const path of ['/api/v1/families/me/invite-code', '/api/v1/families/me/leave']) await answer('post', path, path, bearer(member.access_token, json({ reason: 'moving' })));

      // A conditional GET of a JSON route (a client library that keeps ETags, or sends If-None-Match: *): the
      // answer again, never a bodyless 304 that neither the document nor no-store allows (Express answered one).
      for (const path of ['/api/v1/auth/me', '/api/v1/families/me', '/api/v1/upload/limits', '/api/v1/sync', '/health']) {
        const first = await answer('get', path, path, auth);
        if (first.headers.etag) await answer('get', path, path, bearer(member.access_token, (r) => r.set('If-None-Match', first.headers.etag)));
        await answer('get', path, path, bearer(member.access_token, (r) => r.set('If-None-Match', '*')));
      }

      // Every route's refusal without a token, and of every route that reads a JSON body a body not JSON (415) or too large (413).
      for (const r of routes.filter((x) => x.auth && x.method !== 'head' && x.route !== 'GET /api/v1/sync/events')) {
        await answer(r.method as (typeof METHODS)[number], r.path.replace(/\{[^}]+\}/g, randomUUID()), r.path);
      }
      for (const r of routes.filter((x) => x.route !== 'POST /api/v1/upload' && '415' in (doc.paths[x.path][x.method as (typeof METHODS)[number]]!.responses ?? {}))) {
        const url = r.path.replace(/\{[^}]+\}/g, randomUUID());
        const send = (prepare: (req: request.Test) => request.Test) => answer(r.method as (typeof METHODS)[number], url, r.path, bearer(member.access_token, prepare));
        await send((req) => req.set('Content-Type', 'text/plain').send('hello'));
        if (r.route !== 'POST /api/v1/sync') await send((req) => req.set('Content-Type', 'application/json').send(JSON.stringify({ padding: 'x'.repeat(1024 * 1024) })));
      }

      // The event stream's 200: its type, and its first event (sent at once) as the document's example writes one.
      const stream = await http().get('/api/v1/sync/events').set('Authorization', `Bearer ${member.access_token}`).buffer(true).parse((response, done) => {
        const res = response as unknown as IncomingMessage;
        let text = '';
        let answered = false;
        const settle = () => {
          if (answered) return;
          answered = true;
          res.destroy();
          done(null, text);
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (/\S[^]*\n\n/.test(text)) settle();
        });
        res.on('end', settle);
        res.on('close', settle);
      });
      const documentedStream = (doc.paths['/api/v1/sync/events'].get as unknown as { responses: Record<string, { content: Record<string, { example: string }> }> }).responses['200'].content;
      // The first event: the first block of lines (blank lines between events dispatch nothing).
      const firstBlock = (text: string) => text.split(/\n\n/).find((block) => block.trim() !== '') ?? '';
      const firstEvent = firstBlock(String(stream.body));
      const eventShape = (event: string) => event.trim().replace(/\d+/g, 'N');
      checked.push({
        route: `GET /api/v1/sync/events ${stream.status}`,
        status: stream.status,
        problems: [
          ...(Object.keys(documentedStream).some((type) => String(stream.headers['content-type']).startsWith(type)) ? [] : [`content-type ${String(stream.headers['content-type'])}`]),
          ...(eventShape(firstEvent) === eventShape(firstBlock(documentedStream['text/event-stream'].example))
            ? [] : [`first event ${JSON.stringify(firstEvent)} is not shaped as the document's example`]),
        ],
      });

      // An app of its own, limited to one attempt per account and sending mail: a 429, and a password reset by its emailed link.
      const smtp = await startSmtpServer();
      const other = await createBuiltApp({
        AUTH_RATE_LIMIT: '1', TRUST_PROXY: '1', SMTP_URL: smtp.url, MAIL_FROM: 'HemoDay <no-reply@hemoday.test>', PASSWORD_RESET_URL: 'https://app.hemoday.test/reset?token={token}',
      });
      try {
        // From a client network of its own: the counters are in the database, and this run's other apps spent 127.0.0.1's.
        const ip = newClientIp();
        const on = () => request(other.getHttpServer());
        const send = (body: object) => (req: request.Test) => json(body)(req.set('X-Forwarded-For', ip));
        const email = `limited-${randomUUID()}@example.test`;
        for (let attempt = 0; attempt < 2; attempt++) await answer('post', '/api/v1/auth/login', '/api/v1/auth/login', send({ email, password: 'wrong password' }), on);
        const forgetful = `reset-${randomUUID()}@example.test`;
        await answer('post', '/api/v1/auth/register', '/api/v1/auth/register', send({ email: forgetful, password }), on);
        await answer('post', '/api/v1/auth/forgot-password', '/api/v1/auth/forgot-password', send({ email: forgetful }), on);
        const { PasswordResetService } = await import('../../dist/src/modules/auth/password-reset.service.js' as string);
        await other.get(PasswordResetService).idle();
        const [, token] = /reset\?token=([A-Za-z0-9_-]+)/.exec(smtp.received.find((mail) => mail.envelopeTo.includes(forgetful))?.text ?? '') ?? [];
        await answer('post', '/api/v1/auth/reset-password', '/api/v1/auth/reset-password', send({ token, new_password: 'another password' }), on);
      } finally {
        await other.close();
        await smtp.stop();
      }
    });

    it('the check refuses what the document does not say: an undocumented key, a null, a missing key, a value off an enum or a format', () => {
      const user = { id: randomUUID(), family_id: null, email: 'a@example.test', name: null, role: null };
      const me = (body: unknown) => contract.problems('get', '/api/v1/auth/me', { status: 200, body, contentType: 'application/json; charset=utf-8' });
      expect(me({ user, family: null })).toEqual([]);
      expect(me({ user: { ...user, avatar: 'x' }, family: null })).toEqual(['body.user.avatar: not documented']);
      expect(me({ user: { ...user, id: null }, family: null })).toEqual(['body.user.id: must be string']);
      expect(me({ user: { ...user, role: 'admin' }, family: null })).toEqual(expect.arrayContaining([expect.stringMatching(/^body\.user\.role: must be equal to one of the allowed values/)]));
      expect(me({ user: { ...user, id: 'not-a-uuid' }, family: null })).toEqual(['body.user.id: must match format "uuid"']);
      expect(me({ user })).toEqual(["body: must have required property 'family'"]);
      expect(contract.problems('get', '/api/v1/auth/me', { status: 418, body: {} })).toEqual(['status 418 not documented']);
      expect(contract.headerProblems('post', '/api/v1/auth/login', { status: 429, headers: { 'retry-after': 'soon' } })).toEqual(['header Retry-After: "soon" must be integer']);
      expect(contract.headerProblems('post', '/api/v1/auth/login', { status: 429, headers: { 'retry-after': '0' } })).toEqual(['header Retry-After: "0" must be >= 1']);
      expect(contract.problems('post', '/api/v1/auth/logout', { status: 204, body: {}, contentType: 'application/json' })).toEqual(['a JSON body where the document gives none']);
      expect(contract.problems('get', '/api/v1/files/{id}', { status: 200, body: {}, contentType: 'text/html; charset=utf-8' })).toEqual([
        expect.stringMatching(/^a text\/html; charset=utf-8 body where the document gives application\/pdf, image\/jpeg, /),
      ]);
      // Free-form where the document says so: a pulled record's columns.
      expect(contract.problems('get', '/api/v1/sync', { status: 200, body: { changes: { reminders: { created: [{ id: 'r', any_column: 1 }], updated: [], deleted: [] } }, timestamp: 1 }, contentType: 'application/json' })).toEqual([]);
    });

    it('every example the document gives fits the schema it illustrates (Swagger UI shows them as the answers)', () => {
      expect(contract.exampleProblems()).toEqual([]);
      // What it would say of a wrong one.
      const wrong = { ...doc, components: { schemas: { ...doc.components.schemas, Probe: { type: 'object', properties: { count: { type: 'integer', example: 'many' } } } } } };
      expect(responseContract(wrong as unknown as OpenApiDocument).exampleProblems()).toEqual(['Probe.count: "many" example: must be integer']);
    });

    it('walks every documented route (a route added to the API is added to the walk)', () => {
      const walked = new Set(checked.map((c) => c.route.split(' ').slice(0, 2).join(' ')));
      // The event stream never ends: its 200 cannot be read to its end here (sync-events.e2e-spec.ts reads it).
      expect(routes.map((r) => r.route).filter((route) => !walked.has(route) && route !== 'GET /api/v1/sync/events')).toEqual([]);
    });

    it('reaches every documented status of every route but those it cannot cause cheaply (each has its own spec)', () => {
      const reached = new Set(checked.map((c) => c.route));
      const documented = routes.flatMap((r) => Object.keys(doc.paths[r.path][r.method as (typeof METHODS)[number]]!.responses ?? {}).map((status) => `${r.route} ${status}`));
      const unreached = documented.filter((answered) => !reached.has(answered));
      expect(unreached.filter((answered) => !/ (503|429)$/.test(answered) && !/ 409$/.test(answered))).toEqual([
        'POST /api/v1/sync 413', // over SYNC_BODY_LIMIT_BYTES (64 MiB) or SYNC_FAMILY_MAX_RECORDS (sync-push-bounds, sync-record-quota)
        'POST /api/v1/upload 404', // a document of another family (security-review.e2e-spec.ts)
        'POST /api/v1/upload 413', // over UPLOAD_MAX_BYTES (documents.e2e-spec.ts)
      ]);
      // 503: the database or the storage down (database-*, files-s3-unavailable); 429: one route's, the one guard's shape;
      // 409: MEMBERSHIP_CHANGED, a membership that changes while the request runs (families, sync-races).
      expect(reached.has('POST /api/v1/auth/login 429')).toBe(true);
      expect(unreached.filter((answered) => / 409$/.test(answered) && !/^(GET|POST|PATCH|DELETE) \/api\/v1\/(auth\/me|families\/me.*|sync) 409$/.test(answered))).toEqual([]);
    });

    it('answers only documented statuses, each with the body its schema says', () => {
      expect(checked.filter((c) => c.problems.length)).toEqual([]);
      // The walk reached the success of every route, not only refusals.
      expect(checked.filter((c) => c.status < 300).length).toBeGreaterThanOrEqual(25);
    });
  });

  it('serves the Swagger UI at /docs', async () => {
    const res = await http().get('/docs').expect(200);
    expect(res.text).toMatch(/swagger/i);
  });
});
