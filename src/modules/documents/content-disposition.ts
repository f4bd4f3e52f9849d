import { basename } from 'node:path/posix';
import { EXTENSIONS } from './file-type.js';

const MAX_HEADER_FILE_NAME_LENGTH = 200;

/**
 * The client's file name reduced to something safe to echo back in a header:
 * last path segment only, no control or bidi characters, bounded length.
 * Returns null when nothing usable is left. It never becomes a path.
 */
export function sanitizeFileName(raw: string | undefined | null): string | null {
  if (!raw) return null;
  const lastSegment = basename(raw.replace(/\\/g, '/'));
  const cleaned = lastSegment
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/^[.\s]+/, '')
    .trim();
  if (!cleaned) return null;
  return Array.from(cleaned).slice(0, MAX_HEADER_FILE_NAME_LENGTH).join('');
}

/** The name to offer on download: the sanitized one, with an extension matching the real type. */
export function downloadName(fileId: string, originalName: string | null, mimeType: string): string {
  const ext = EXTENSIONS[mimeType];
  const name = originalName ?? `document-${fileId.slice(0, 8)}`;
  if (!ext) return name;
  const lower = name.toLowerCase();
  const matches = lower.endsWith(`.${ext}`) || (ext === 'jpg' && lower.endsWith('.jpeg'));
  return matches ? name : `${name}.${ext}`;
}

/** RFC 6266 header with an ASCII fallback and the UTF-8 name in `filename*` (RFC 5987). */
export function contentDisposition(name: string, type: 'inline' | 'attachment' = 'inline'): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
