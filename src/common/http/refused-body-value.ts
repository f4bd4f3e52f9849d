import { echoed } from '../errors/echoed-name.js';
import { unstorableTextProblem } from './storable-text.js';

/**
 * How deeply a JSON body other than a sync push may nest. REST bodies are flat; the ValidationPipe's
 * class-transformer recurses into every value, and a body of a few thousand nested arrays (10 KB)
 * overflowed its stack (500).
 */
export const MAX_BODY_DEPTH = 32;

/**
 * How many properties one JSON object of a body other than a sync push may have. REST bodies have a
 * handful; the ValidationPipe's class-transformer de-duplicates an object's keys with indexOf, in
 * time quadratic in their number and synchronously: a 1 MiB body of 90,000 keys held the event loop
 * for ~7 s (every request of every family waiting), on routes without a rate limit (POST
 * /auth/refresh, /auth/logout), and answered 8.9 MB of "should not exist" (found by review).
 */
export const MAX_OBJECT_KEYS = 100;

/**
 * How many values (every property's value and array item, at any depth) a body other than a sync
 * push may hold in all. REST bodies hold a handful of scalars, but the ValidationPipe's
 * class-transformer copies every value of the body, unknown properties and arrays included, a
 * few µs each, synchronously: within the limits above, one anonymous 1 MiB body to POST
 * /auth/refresh (no rate limit) held the event loop ~2-3.7 s — an array of 520,000 numbers, or 99
 * properties holding arrays of arrays — and an array body, validated as an object whose properties
 * are its indexes, was answered with 51 MB of "property <i> should not exist" (found by review).
 */
export const MAX_BODY_VALUES = 1_000;

/**
 * Property names class-transformer drops without a word, so the ValidationPipe's whitelist never saw
 * them: `__proto__` (its guard against prototype pollution) and every name a DTO inherits from
 * Object.prototype (it skips a key whose value on the new instance is a function: `constructor`,
 * `toString`, `hasOwnProperty`, `valueOf`…). `PATCH {"__proto__": {...}}` answered 200 as an empty
 * PATCH, and `{"toString": "…"}` was ignored the same way (found by review). No REST body or query has
 * such a property: refused as the pipe refuses any unknown one (queries: validation.ts).
 */
export const DROPPED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

interface Container {
  depth: number;
  parent?: Container;
  /** Its index in its parent array, or its key in its parent object. */
  key: number | string;
}

/**
 * The first value of a parsed REST body that is refused before the ValidationPipe sees it, with its
 * path and the message naming it: an object or array nested deeper than MAX_BODY_DEPTH, an object
 * with more than MAX_OBJECT_KEYS properties, a body of more than MAX_BODY_VALUES values (named as
 * `(body)`), a property class-transformer would drop unseen (DROPPED_NAMES), or a key or
 * string PostgreSQL cannot store (NUL, a lone surrogate: unstorableTextProblem). One iterative walk
 * (any depth) that runs on every JSON body, before the guards: only objects and arrays are kept on
 * the stack, and a path is spelled out only for the value refused (found in review: a path string
 * per value made a 1 MiB body of numbers cost some 50 times its JSON.parse, the event loop blocked
 * all along, and two walks did it twice).
 */
export function findRefusedValue(body: unknown): { field: string; message: string } | undefined {
  if (typeof body === 'string') {
    const problem = unstorableTextProblem(body);
    return problem ? refusedAt({ depth: 0, key: '' }, problem) : undefined;
  }
  if (body === null || typeof body !== 'object') return undefined;
  const root: Container = { depth: 0, key: '' };
  const stack: Array<[object, Container]> = [[body, root]];
  // Counted as the walk meets them; past the budget the walk stops there.
  let values = 0;
  while (stack.length) {
    const [value, at] = stack.pop()!;
    if (at.depth === MAX_BODY_DEPTH) return refusedAt(at, `is nested more than ${MAX_BODY_DEPTH} levels deep`);
    // Plain loops: this runs on every body, and iterators or entry arrays cost several JSON.parses.
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (++values > MAX_BODY_VALUES) return refusedAt(root, `holds more than ${MAX_BODY_VALUES} values`);
        const refused = visit(value[i], i, at, stack);
        if (refused) return refused;
      }
    } else {
      let keys = 0;
      for (const key in value) {
        if (++keys > MAX_OBJECT_KEYS) return refusedAt(at, `has more than ${MAX_OBJECT_KEYS} properties`);
        if (++values > MAX_BODY_VALUES) return refusedAt(root, `holds more than ${MAX_BODY_VALUES} values`);
        const keyProblem = unstorableTextProblem(key);
        if (keyProblem) return refusedAt({ depth: at.depth + 1, parent: at, key }, `name ${keyProblem}`);
        if (DROPPED_NAMES.has(key)) {
          const field = pathOf({ depth: at.depth + 1, parent: at, key });
          return { field, message: `property ${field} should not exist` };
        }
        const refused = visit((value as Record<string, unknown>)[key], key, at, stack);
        if (refused) return refused;
      }
    }
  }
  return undefined;
}

/** Checks a string child at once; keeps an object or array child for the walk. */
function visit(item: unknown, key: number | string, parent: Container, stack: Array<[object, Container]>) {
  if (typeof item === 'string') {
    const problem = unstorableTextProblem(item);
    return problem ? refusedAt({ depth: parent.depth + 1, parent, key }, problem) : undefined;
  }
  if (item !== null && typeof item === 'object') stack.push([item, { depth: parent.depth + 1, parent, key }]);
  return undefined;
}

function refusedAt(at: Container, problem: string): { field: string; message: string } {
  const field = pathOf(at);
  return { field, message: `${field} ${problem}` };
}

/** `a.b[2].c`, as the 400 names a field (`(body)` for the body itself; a long key cut: echoed). */
function pathOf(at: Container): string {
  let path = '';
  for (let node: Container | undefined = at; node?.parent; node = node.parent) {
    path = (typeof node.key === 'number' ? `[${node.key}]` : `.${echoed(node.key)}`) + path;
  }
  return path.replace(/^\./, '') || '(body)';
}
