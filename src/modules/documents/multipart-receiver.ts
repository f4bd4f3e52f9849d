import busboy, { type FileInfo } from 'busboy';
import type { Request } from 'express';
import type { Readable } from 'node:stream';
import { echoed } from '../../common/errors/echoed-name.js';
import { discardBody, discardUnreadBody } from '../../common/http/discard-body.js';
import { unstorableTextProblem } from '../../common/http/storable-text.js';
import { DocumentsErrors } from './documents.errors.js';

export interface MultipartLimits {
  /** Largest accepted file. */
  maxFileBytes: number;
  /** Text fields allowed next to the file. */
  fieldNames: ReadonlySet<string>;
  maxFieldBytes: number;
}

export interface MultipartHooks<T> {
  /**
   * Called when the file part starts, with the fields received before it (clients
   * usually send them first): throwing (or rejecting) refuses the upload before anything
   * is stored. The file is not read until it has settled; busboy, and the request, wait.
   */
  beforeFile?: (fieldsSoFar: Readonly<Record<string, string>>) => void | Promise<void>;
  /** Receives the one `file` part as a stream while it arrives. */
  handleFile: (stream: Readable, info: FileInfo) => Promise<T>;
}

export interface ReceivedMultipart<T> {
  fields: Record<string, string>;
  file: T;
  info: FileInfo;
}

/** Headers and the boundary lines of a few fields: what a request may carry beyond the file itself. */
const ENVELOPE_SLACK_BYTES = 256 * 1024;

/** The request's Content-Length says that its file, whatever the fields next to it, is larger than `bytes`. */
export function declaresFileOver(req: Request, bytes: number): boolean {
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) && declared > bytes + ENVELOPE_SLACK_BYTES;
}

/**
 * Parses a multipart/form-data request with busboy, handing the one `file`
 * part to `hooks.handleFile` as a stream while it arrives (nothing is buffered).
 * Rejects (with a DomainError) on a missing or second file, unknown or too
 * long fields, malformed bodies, a compressed body (any Content-Encoding). After a failure the rest of the request is
 * read and discarded up to MAX_DRAIN_BYTES, so the client can read the error
 * response; a longer body is cut off and the connection closed
 * (`Connection: close`) instead of receiving megabytes nobody will store.
 *
 * Parameter values (the file name) are decoded as UTF-8: phones, browsers and
 * curl send raw UTF-8 in `filename="…"` (busboy's default would read it as
 * latin1); an RFC 5987 `filename*=` still wins when present.
 */
export function receiveMultipart<T>(req: Request, limits: MultipartLimits, hooks: MultipartHooks<T>): Promise<ReceivedMultipart<T>> {
  return new Promise((resolve, reject) => {
    if (declaresFileOver(req, limits.maxFileBytes)) {
      // Refused before reading: no point in receiving megabytes we already know we'll discard. A body
      // short enough to drain (a small UPLOAD_MAX_BYTES) is read first, so the phone reads the 413.
      void discardUnreadBody(req).then(() => reject(DocumentsErrors.fileTooLarge(limits.maxFileBytes)));
      return;
    }
    // Content-Encoding is not decoded here: a gzipped body was parsed as multipart (400 "Malformed"), and one
    // labelled gzip but sent plain was stored. The files are compressed already; refuse it (RFC 9110 §12.5.3).
    const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      req.res?.setHeader('Accept-Encoding', 'identity');
      void discardUnreadBody(req).then(() => reject(DocumentsErrors.uploadEncodingNotSupported()));
      return;
    }
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: {
          files: 1,
          fields: limits.fieldNames.size,
          // busboy marks a field truncated once it reaches fieldSize, so a value of exactly maxFieldBytes (20,000
          // notes of 4 bytes each) was refused: one more byte lets through what the limit allows.
          fieldSize: limits.maxFieldBytes + 1,
          fieldNameSize: 100,
          // A backstop only: UploadInspector counts and refuses first.
          fileSize: limits.maxFileBytes + 1,
        },
      });
    } catch (error) {
      // The usual cause: a Content-Type set by hand on a FormData body, which drops the boundary the client writes.
      const noBoundary = error instanceof Error && error.message === 'Multipart: Boundary not found';
      return reject(
        DocumentsErrors.invalidUpload(
          noBoundary
            ? 'The multipart/form-data Content-Type has no boundary: do not set the Content-Type of a form-data body yourself, the HTTP client writes it with its boundary'
            : 'Expected a multipart/form-data body with a "file" part',
        ),
      );
    }

    const fields: Record<string, string> = {};
    let filePromise: Promise<T> | undefined;
    let fileInfo: FileInfo | undefined;
    let fileStream: Readable | undefined;
    let settled = false;

    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      // Stops the storage write (the driver removes what it wrote) if the file is still arriving.
      if (fileStream && !fileStream.readableEnded) fileStream.destroy(error instanceof Error ? error : new Error(String(error)));
      req.unpipe(parser);
      parser.removeAllListeners();
      parser.on('error', () => undefined);
      // Drain what the client is still sending, then answer; answering mid-upload makes many
      // clients (and proxies) report a broken connection instead of our error. But only so much:
      // past MAX_DRAIN_BYTES (or MAX_DRAIN_MS) answer now and close the connection after the answer.
      void discardBody(req).then(() => reject(error));
    };

    parser.on('file', (name, stream, info) => {
      if (name !== 'file') {
        stream.resume();
        // A part's name is the client's, of any length up to busboy's 16 KiB part header (its fieldNameSize
        // bounds urlencoded bodies only): repeated cut, as every error repeats a client-sent name.
        return fail(DocumentsErrors.invalidUpload(`Unexpected file field "${echoed(name)}": send the file as "file"`));
      }
      const decoded = { ...info, filename: decodeFormDataEscapes(info.filename) };
      fileInfo = decoded;
      // Past its fileSize limit busboy skips the rest of the part, reading the request as fast as it
      // comes: stop it now, not when the storage driver has finished failing (11 MiB more were read
      // by then in a test). The inspector refuses on the same byte; this only makes it immediate.
      // Listened to at once: busboy counts what it buffers too, and may pass the limit in this very write.
      stream.once('limit', () => fail(DocumentsErrors.fileTooLarge(limits.maxFileBytes)));
      filePromise = Promise.resolve()
        .then(() => hooks.beforeFile?.(fields))
        .then(() => {
          // Refused meanwhile (too large, or the client went away): nothing may be stored.
          if (settled) throw new Error('The upload ended before its file was read');
          fileStream = stream;
          return hooks.handleFile(stream, decoded);
        });
      filePromise.catch((error: unknown) => {
        stream.resume();
        fail(error);
      });
    });
    parser.on('field', (name, value, info) => {
      // busboy takes a part for a file only with a filename (or Content-Type application/octet-stream). React
      // Native's FormData leaves the filename out when the file has no `name`, OkHttp when it is given null.
      if (name === 'file') {
        return fail(
          DocumentsErrors.invalidUpload(
            'The "file" part has no filename, so it reads as a text field: send it as a file, with filename="…" in its Content-Disposition',
            'file',
          ),
        );
      }
      if (!limits.fieldNames.has(name)) return fail(DocumentsErrors.invalidUpload(`Unknown field "${echoed(name)}"`, echoed(name)));
      if (info.valueTruncated) return fail(DocumentsErrors.invalidUpload(`Field "${name}" is longer than ${limits.maxFieldBytes} bytes`, name));
      if (name in fields) return fail(DocumentsErrors.invalidUpload(`Field "${name}" is given twice`, name));
      // busboy gives no value for a part whose Content-Type names a charset it cannot decode (`charset=utf-16`):
      // a throw here, inside busboy's write, would be uncaught and end the process.
      if (typeof value !== 'string') return fail(DocumentsErrors.invalidUpload(`Field "${name}" is in an unsupported charset: send it as UTF-8`, name));
      const problem = unstorableTextProblem(value);
      if (problem) return fail(DocumentsErrors.invalidUpload(`${name} ${problem}`, name));
      fields[name] = value;
    });
    parser.on('filesLimit', () => fail(DocumentsErrors.invalidUpload('Send exactly one file per upload')));
    parser.on('fieldsLimit', () => fail(DocumentsErrors.invalidUpload('Too many fields')));
    parser.on('error', () => fail(DocumentsErrors.invalidUpload('Malformed multipart body')));
    parser.on('close', () => {
      if (settled) return;
      if (!filePromise || !fileInfo) return fail(DocumentsErrors.invalidUpload('The "file" part is missing', 'file'));
      const info = fileInfo;
      filePromise.then(
        (file) => {
          if (settled) return;
          settled = true;
          resolve({ fields, file, info });
        },
        fail,
      );
    });
    req.on('aborted', () => fail(DocumentsErrors.invalidUpload('The upload was interrupted')));
    req.pipe(parser);
  });
}

/**
 * Browsers and OkHttp (Android) write `"`, CR and LF in a multipart file name as
 * `%22`, `%0D` and `%0A` (WHATWG form encoding) and leave every other byte as
 * is; undo exactly that. (curl escapes `"` as `\"`, which busboy already reads.)
 * A name that really contains "%22" reads as a quote: it only names the download.
 */
function decodeFormDataEscapes(name: string): string;
function decodeFormDataEscapes(name: string | undefined): string | undefined;
function decodeFormDataEscapes(name: string | undefined): string | undefined {
  return name?.replace(/%(22|0d|0a)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
