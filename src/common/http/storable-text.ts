/**
 * PostgreSQL text cannot hold NUL (the write fails, which used to answer 500),
 * and a lone surrogate would be stored silently as U+FFFD. Both are refused
 * before any query, naming the field. (Sync pushes apply this rule too, in their
 * validator, which names table, id and field.)
 */
export function unstorableTextProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) return 'must be well-formed Unicode';
  return undefined;
}

/** The first key or string value of a parsed JSON body that PostgreSQL cannot store, with its path. Iterative: any depth. */
export function findUnstorableText(body: unknown): { field: string; problem: string } | undefined {
  const stack: Array<[unknown, string]> = [[body, '']];
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = unstorableTextProblem(value);
      if (problem) return { field: path || '(body)', problem };
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push([item, `${path}[${i}]`]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const field = path ? `${path}.${key}` : key;
        const problem = unstorableTextProblem(key);
        if (problem) return { field, problem: `name ${problem}` };
        stack.push([item, field]);
      }
    }
  }
  return undefined;
}
