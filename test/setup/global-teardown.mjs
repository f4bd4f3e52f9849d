export default async function globalTeardown() {
  await globalThis.__HEMODAY_TEST_DB__?.stop();
}
