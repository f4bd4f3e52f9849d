import { rm } from 'node:fs/promises';

export default async function globalTeardown() {
  await globalThis.__HEMODAY_TEST_DB__?.stop();
  if (globalThis.__HEMODAY_RUN_DIR__) await rm(globalThis.__HEMODAY_RUN_DIR__, { recursive: true, force: true });
}
