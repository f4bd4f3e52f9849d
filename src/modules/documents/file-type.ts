/**
 * Recognizes the file types we accept from their first bytes ("magic numbers").
 * The client's file name and Content-Type are never trusted.
 */

/** How many leading bytes `sniffFileType` wants to see (fewer is fine for tiny files). */
export const SNIFF_BYTES = 64;

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
const HEIF_BRANDS = new Set(['mif1', 'msf1']);

export const EXTENSIONS: Record<string, string> = {
  'application/pdf': 'pdf',
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/heic': 'heic',
  'image/heif': 'heif',
  'image/webp': 'webp',
};

/** Every type `sniffFileType` can recognize: what UPLOAD_ALLOWED_TYPES may list. */
export const SUPPORTED_FILE_TYPES: readonly string[] = Object.keys(EXTENSIONS);

function ascii(bytes: Buffer, start: number, end: number): string {
  return bytes.length >= end ? bytes.toString('latin1', start, end) : '';
}

function startsWith(bytes: Buffer, signature: number[]): boolean {
  return bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);
}

/** The MIME type of a supported format, or null for anything else. */
export function sniffFileType(head: Buffer): string | null {
  if (ascii(head, 0, 5) === '%PDF-') return 'application/pdf';
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'image/webp';
  if (ascii(head, 4, 8) === 'ftyp') return sniffIsoBmff(head);
  return null;
}

/** HEIC/HEIF are ISO-BMFF files: an `ftyp` box with a major brand and compatible brands. */
function sniffIsoBmff(head: Buffer): string | null {
  const boxSize = head.readUInt32BE(0);
  if (boxSize < 16) return null;
  const major = ascii(head, 8, 12);
  const compatible: string[] = [];
  for (let offset = 16; offset + 4 <= Math.min(boxSize, head.length); offset += 4) compatible.push(ascii(head, offset, offset + 4));
  if (HEIC_BRANDS.has(major)) return 'image/heic';
  if (HEIF_BRANDS.has(major)) {
    // AVIF files also declare mif1; only HEVC-coded (or plain HEIF) images are ours.
    if (compatible.some((b) => HEIC_BRANDS.has(b))) return 'image/heic';
    if (compatible.some((b) => b === 'avif' || b === 'avis')) return null;
    return 'image/heif';
  }
  return null;
}
