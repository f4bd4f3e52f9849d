import { sniffFileType } from './file-type.js';

function ftyp(major: string, ...compatible: string[]): Buffer {
  const size = 16 + compatible.length * 4;
  const box = Buffer.alloc(size + 16);
  box.writeUInt32BE(size, 0);
  box.write('ftyp', 4, 'latin1');
  box.write(major, 8, 'latin1');
  compatible.forEach((brand, i) => box.write(brand, 16 + i * 4, 'latin1'));
  return box;
}

describe('sniffFileType', () => {
  it.each([
    ['PDF', Buffer.from('%PDF-1.7\n%âãÏÓ'), 'application/pdf'],
    ['JPEG', Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0, 0]), 'image/jpeg'],
    ['PNG', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), 'image/png'],
    ['WebP', Buffer.concat([Buffer.from('RIFF'), Buffer.from([1, 2, 3, 4]), Buffer.from('WEBPVP8 ')]), 'image/webp'],
    ['HEIC (iPhone)', ftyp('heic', 'mif1', 'heic'), 'image/heic'],
    ['HEIC heix', ftyp('heix', 'mif1'), 'image/heic'],
    ['HEIC sequence', ftyp('hevc', 'msf1'), 'image/heic'],
    ['HEIF with HEVC brand', ftyp('mif1', 'heic'), 'image/heic'],
    ['plain HEIF', ftyp('mif1', 'miaf'), 'image/heif'],
    ['HEIF sequence', ftyp('msf1', 'iso8'), 'image/heif'],
  ])('recognizes %s', (_name, bytes, type) => {
    expect(sniffFileType(bytes)).toBe(type);
  });

  it.each([
    ['Windows executable', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(62)])],
    ['ZIP', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0])],
    // A JPEG's start-of-image marker is always followed by another marker (0xFF…).
    ['FF D8 without a following marker', Buffer.from([0xff, 0xd8, 0x00, 0x10, 0x4a, 0x46])],
    ['AVIF', ftyp('avif', 'mif1', 'miaf')],
    ['AVIF with mif1 major brand', ftyp('mif1', 'avif', 'miaf')],
    ['MP4', ftyp('isom', 'mp41')],
    ['RIFF that is not WebP (WAV)', Buffer.from('RIFF\x00\x00\x00\x00WAVEfmt ', 'latin1')],
    ['HTML', Buffer.from('<html><script>alert(1)</script>')],
    ['a truncated PDF signature', Buffer.from('%PD')],
    ['empty', Buffer.alloc(0)],
  ])('refuses %s', (_name, bytes) => {
    expect(sniffFileType(bytes)).toBeNull();
  });
});
