import { contentDisposition, downloadName, sanitizeFileName } from './content-disposition.js';

describe('sanitizeFileName', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['..\\..\\windows\\system32\\cmd.exe', 'cmd.exe'],
    ['/abs/path/scan.jpg', 'scan.jpg'],
    ['.bashrc', 'bashrc'],
    ['bad\u0000name\r\n.pdf', 'badname.pdf'],
    ['del\u007fC1\u0085controls.pdf', 'delC1controls.pdf'],
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['Анализ крови.pdf', 'Анализ крови.pdf'],
    ['', null],
    ['..', null],
    [undefined, null],
  ])('%j → %j', (raw, expected) => {
    expect(sanitizeFileName(raw)).toBe(expected);
  });

  it('bounds the length', () => {
    expect(Array.from(sanitizeFileName('x'.repeat(1000))!).length).toBe(200);
  });

  // Counted in characters (code points), as the column is: cut in UTF-16 units, the 200th would be half an emoji, a
  // lone surrogate that PostgreSQL's UTF-8 cannot hold (stored as U+FFFD) and no header can name.
  it('cuts the name between characters, never inside one', () => {
    expect(sanitizeFileName(`${'x'.repeat(199)}\u{1F4C4}\u{1F4C4}.pdf`)).toBe(`${'x'.repeat(199)}\u{1F4C4}`);
  });
});

describe('downloadName', () => {
  it('adds the extension of the real type when the name lacks it', () => {
    expect(downloadName('0123456789', 'passwd', 'application/pdf')).toBe('passwd.pdf');
    expect(downloadName('0123456789', 'photo.JPEG', 'image/jpeg')).toBe('photo.JPEG');
    expect(downloadName('0123456789', 'scan.pdf', 'image/png')).toBe('scan.pdf.png');
    expect(downloadName('0123456789', null, 'image/webp')).toBe('document-01234567.webp');
  });
});

describe('contentDisposition', () => {
  it('gives an ASCII fallback and the UTF-8 name (RFC 6266 / 5987)', () => {
    expect(contentDisposition('Анализ "1".pdf')).toBe(
      `inline; filename="______ _1_.pdf"; filename*=UTF-8''%D0%90%D0%BD%D0%B0%D0%BB%D0%B8%D0%B7%20%221%22.pdf`,
    );
    expect(contentDisposition("it's (1).pdf", 'attachment')).toBe(
      `attachment; filename="it's (1).pdf"; filename*=UTF-8''it%27s%20%281%29.pdf`,
    );
  });

  // Found by mutation testing: none of these characters was checked. In the quoted fallback a backslash is
  // an escape (the name loses it), some clients percent-decode the fallback, a `;` ends the parameter for
  // naive parsers; `*` is not an attr-char of RFC 5987, so it must be encoded in filename*.
  it('replaces \\, % and ; in the fallback and encodes * in filename*', () => {
    expect(contentDisposition('a\\b%41;c*d.pdf')).toBe(`inline; filename="a_b_41_c*d.pdf"; filename*=UTF-8''a%5Cb%2541%3Bc%2Ad.pdf`);
  });
});
