/** negotiator 1.x (what Express's `req.accepts*` use) ships no types: the part this app uses. */
declare module 'negotiator' {
  import type { IncomingHttpHeaders } from 'node:http';

  export default class Negotiator {
    constructor(request: { headers: IncomingHttpHeaders });
    /**
     * `available`, best first by the request's q-values, without those it refuses; codings it likes
     * equally in `preferred`'s order (without it: in the order the header lists them).
     */
    encodings(available: string[], options?: { preferred?: string[] }): string[];
  }
}
