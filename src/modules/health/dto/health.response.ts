export class HealthDatabaseStatus {
  /** @example up */
  status: 'up';
  /**
   * How long this check took, in milliseconds: the round trip of its question to the database (is
   * it a standby, is it read-only), on a connection of its own (opened first if it had none), or
   * the wait for the same question already asked by a check that arrived just before.
   */
  latencyMs: number;
}

export class HealthResponse {
  /** @example ok */
  status: 'ok';
  database: HealthDatabaseStatus;
}
