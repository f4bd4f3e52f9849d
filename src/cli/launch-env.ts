/**
 * NODE_ENV exactly as the CLI was launched (its environment, or `.env`),
 * recorded before the configuration module loads: that module writes its
 * `development` default into process.env, and `seed --reset` must tell
 * "set to development" from "forgotten".
 */
let launchNodeEnv: string | undefined;

export function recordLaunchEnv(env: NodeJS.ProcessEnv = process.env): void {
  launchNodeEnv = env.NODE_ENV === '' ? undefined : env.NODE_ENV;
}

export function launchedNodeEnv(): string | undefined {
  return launchNodeEnv;
}
