import { LOWER_CASE_UUID_SOURCE } from '../../common/http/uuid.js';

/**
 * The one spelling of a file's URL, `/api/v1/files/<id>`: what an upload answers, what a synced
 * document's `file_url` must be, and what the cleanup matches documents on (in SQL).
 */
export const FILE_URL_PREFIX = '/api/v1/files/';

const FILE_URL = new RegExp(`^${FILE_URL_PREFIX}(${LOWER_CASE_UUID_SOURCE})$`);

export function fileUrlOf(fileId: string): string {
  return `${FILE_URL_PREFIX}${fileId}`;
}

/** The file id of a well-formed file URL (lower-case UUID, as the server spells it), else null. */
export function fileIdOfUrl(fileUrl: string): string | null {
  return FILE_URL.exec(fileUrl)?.[1] ?? null;
}
