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
