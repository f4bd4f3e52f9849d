import { AsyncLocalStorage } from 'node:async_hooks';

/** Per-request values every log line needs (currently the request id). */
export interface RequestContext {
  reqId: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();
