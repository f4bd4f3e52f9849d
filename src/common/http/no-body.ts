import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { echoed } from '../errors/echoed-name.js';
import { invalidRequest } from '../errors/invalid-request.js';

/**
 * For a route that takes no body: a JSON body with any property is refused 400 VALIDATION_FAILED
 * naming each, as the ValidationPipe refuses an unknown field on every route with a DTO (a route
 * without one took any body silently). No body, or `{}`, goes on. A parameter decorator, so it runs
 * where the pipe would: after the guards (401 and 403 first) and the interceptors.
 */
export const NoBody = createParamDecorator((_: unknown, ctx: ExecutionContext): undefined => {
  const body: unknown = ctx.switchToHttp().getRequest<Request>().body;
  const names = body !== null && typeof body === 'object' ? Object.keys(body) : [];
  if (names.length) throw invalidRequest(names.map((name) => ({ field: echoed(name), errors: [`property ${echoed(name)} should not exist`] })));
  return undefined;
});
