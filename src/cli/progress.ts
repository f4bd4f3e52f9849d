/**
 * A tiny progress reporter: a redrawn bar on a terminal, one plain line per
 * step otherwise (CI logs, pipes), so output stays readable in both.
 */
export class Progress {
  private done = 0;
  private readonly finished = new Map<number, string>();
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  /**
   * Step `index` (0-based) is finished. Steps finishing out of order (work run side by side) are
   * reported in their order: a step's line waits until every earlier step has finished, so
   * `seed 2/3` always names the second family and comes before `seed 3/3`.
   */
  complete(index: number, message: string): void {
    this.finished.set(index, message);
    for (let next = this.finished.get(this.done); next !== undefined; next = this.finished.get(this.done)) {
      this.finished.delete(this.done);
      this.tick(next);
    }
  }

  tick(message: string): void {
    this.done = Math.min(this.total, this.done + 1);
    if (!this.tty) {
      this.out.write(`${this.label} ${this.done}/${this.total}: ${message}\n`);
      return;
    }
    const width = 30;
    const filled = Math.round((this.done / Math.max(1, this.total)) * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const columns = this.out.columns || 100;
    const line = `${this.label} [${bar}] ${this.done}/${this.total} ${message}`.slice(0, columns - 1);
    this.out.write(`\r\x1b[2K${line}`);
    if (this.done === this.total) this.out.write('\n');
  }

  /** Ends the bar's line early (on failure) so the error message starts on its own line. */
  interrupt(): void {
    if (this.tty && this.done > 0 && this.done < this.total) this.out.write('\n');
  }
}
