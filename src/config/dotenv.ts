import { existsSync, readFileSync } from 'node:fs';

/**
 * Loads `.env` from the working directory into process.env without
 * overriding variables that are already set (the environment wins).
 * `KEY=value` lines, `export ` allowed; blanks around the value are not part of it; a value in
 * single or double quotes is taken as written between them; after a value, ` #` starts
 * a comment (as docker compose reads it; the dotenv package, Nest's ConfigModule reader, cuts an
 * unquoted value at any `#`, and is therefore not used: ignoreEnvFile in AppModule and CliModule).
 * A variable named on two lines takes the last one, as compose, a shell's `source` and dotenv do.
 */
export function loadDotEnv(path = '.env'): void {
  if (!existsSync(path)) return;
  const values = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    // Lazy value: trailing blanks (an editor's, a copy-paste's) went into the value, a quoted one kept its quotes.
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trim().startsWith('#')) continue;
    const [, key, raw] = match;
    const quoted = /^(['"])(.*?)\1(?:\s+#.*)?$/.exec(raw);
    values.set(key, quoted ? quoted[2] : raw.replace(/\s+#.*$/, ''));
  }
  for (const [key, value] of values) if (process.env[key] === undefined) process.env[key] = value;
}
