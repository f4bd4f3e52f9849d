import { Progress } from './progress.js';

function capture(isTTY: boolean) {
  const chunks: string[] = [];
  const out = { isTTY, columns: 200, write: (c: string) => (chunks.push(c), true) } as unknown as NodeJS.WriteStream;
  return { out, text: () => chunks.join('') };
}

describe('Progress', () => {
  it('steps finishing out of order are reported in their order, each number naming its own step', () => {
    const { out, text } = capture(false);
    const progress = new Progress(3, 'seed', out);
    progress.complete(2, 'third');
    expect(text()).toBe(''); // waits for the first two
    progress.complete(0, 'first');
    expect(text()).toBe('seed 1/3: first\n');
    progress.complete(1, 'second');
    expect(text()).toBe('seed 1/3: first\nseed 2/3: second\nseed 3/3: third\n');
  });

  it('on a terminal: one bar redrawn in place, ended by a newline', () => {
    const { out, text } = capture(true);
    const progress = new Progress(2, 'seed', out);
    progress.complete(1, 'b');
    progress.complete(0, 'a');
    expect(text()).toBe(`\r\x1b[2Kseed [${'#'.repeat(15)}${'-'.repeat(15)}] 1/2 a\r\x1b[2Kseed [${'#'.repeat(30)}] 2/2 b\n`);
  });
});
