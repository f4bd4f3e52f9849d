import { applyDecorators, createParamDecorator, ExecutionContext, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorResponse } from '../errors/error-response.js';
import { FamilyGuard } from './family.guard.js';
import { JwtAuthGuard } from './jwt-auth.guard.js';
import { FamilyScopeInterceptor } from './family-scope.interceptor.js';
import type { FamilyScope } from './family-context.js';
import type { AuthenticatedUser, ScopedRequest } from './family-scope.request.js';

/** A valid access token is required; no family needed (e.g. /auth/me, /auth/join-family). */
export function Authenticated(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    UseGuards(JwtAuthGuard),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ type: ErrorResponse, description: 'Missing, invalid or expired access token, or one whose sign-in has ended (logout, password change or reset)' }),
  );
}

/**
 * A valid access token and current membership of a family; the handler runs
 * inside that family's scope, so scoped repositories filter by it.
 */
export function FamilyScoped(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    UseGuards(JwtAuthGuard, FamilyGuard),
    UseInterceptors(FamilyScopeInterceptor),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({
      type: ErrorResponse,
      description:
        'Missing, invalid or expired access token, or one whose sign-in has ended (logout, password change or reset), ' +
        'also while the request waited: a write (push, PATCH, upload, owner action) then writes nothing, a pull sends no records (UNAUTHENTICATED)',
    }),
    ApiForbiddenResponse({ type: ErrorResponse, description: 'The caller is not a member of any family' }),
  );
}

export const CurrentUser = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthenticatedUser => ctx.switchToHttp().getRequest<ScopedRequest>().user!,
);

export const CurrentFamily = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): FamilyScope => ctx.switchToHttp().getRequest<ScopedRequest>().familyScope!,
);
