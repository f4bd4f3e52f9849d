/** The "sync now" event stream as a test reads it (GET /api/v1/sync/events over fetch). */
import { bearer } from '../factories/auth.factory.js';
import type { RunningApp } from './test-app.js';

export interface SseEvent {
  type: string;
  id?: string;
  data: { version?: number };
}

/** Opens the event stream and collects parsed events until closed. */
export async function openEvents(t: RunningApp, token: string) {
  const controller = new AbortController();
  const response = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(token), signal: controller.signal });
  const events: SseEvent[] = [];
  const reading = (async () => {
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) => [...block.matchAll(new RegExp(`^${name}: ?(.*)$`, 'gm'))].map((m) => m[1]).join('\n');
          events.push({ type: field('event') || 'message', id: field('id') || undefined, data: JSON.parse(field('data') || '{}') });
        }
      }
    } catch {
      /* aborted */
    }
  })();
  const waitFor = async (predicate: (e: SseEvent) => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = events.find(predicate);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(events)}`);
  };
  return { response, events, waitFor, ended: reading, close: async () => (controller.abort(), await reading) };
}

/** Resolves when the server has ended the stream; fails the test if it is still open after `ms`. */
export async function expectEnded(stream: { ended: Promise<void> }, what: string, ms = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    stream.ended,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`stream still open after ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
