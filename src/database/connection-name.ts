import { hostname } from 'node:os';

/** PostgreSQL keeps this many bytes of an application_name (NAMEDATALEN - 1) and drops the rest. */
const MAX_NAME_BYTES = 63;

/**
 * The application_name of this process's connections, as pg_stat_activity shows them:
 * `hemoday-<role>-<pid>@<host>`. The host tells instances apart where every one is pid 1 (a
 * container); cut here, not by the server, so the name is known exactly (a long host loses its tail).
 */
export function connectionName(role: 'api' | 'sync-events' | 'health' | 'migrations'): string {
  return Buffer.from(`hemoday-${role}-${process.pid}@${hostname()}`).subarray(0, MAX_NAME_BYTES).toString();
}
