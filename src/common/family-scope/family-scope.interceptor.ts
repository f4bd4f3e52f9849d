import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { FamilyContext } from './family-context.js';
import type { ScopedRequest } from './family-scope.request.js';

/** Runs the handler inside the family scope that FamilyGuard resolved for this request. */
@Injectable()
export class FamilyScopeInterceptor implements NestInterceptor {
  constructor(private readonly familyContext: FamilyContext) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const scope = context.switchToHttp().getRequest<ScopedRequest>().familyScope;
    if (!scope) return next.handle();
    return new Observable((subscriber) =>
      this.familyContext.run(scope, () => next.handle().subscribe(subscriber)),
    );
  }
}
