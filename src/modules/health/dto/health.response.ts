export class HealthDatabaseStatus {
  /** @example up */
  status: 'up';
  /** Round trip of `SELECT 1`, in milliseconds. */
  latencyMs: number;
}

export class HealthResponse {
  /** @example ok */
  status: 'ok';
  database: HealthDatabaseStatus;
}
