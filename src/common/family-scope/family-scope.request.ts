import type { Request } from 'express';
import type { FamilyScope } from './family-context.js';

/** The authenticated principal, as put on the request by the JWT strategy. */
export interface AuthenticatedUser {
  userId: string;
}

export interface ScopedRequest extends Request {
  user?: AuthenticatedUser;
  familyScope?: FamilyScope;
}
