import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { DocumentsErrors } from './documents.errors.js';
import type { UploadResponse } from './dto/upload.response.js';
import type { DownloadConditions, DownloadPlan } from './files.service.js';
import { fileEtag } from './http-range.js';

/** Writes a DownloadPlan to the response, streaming the body. */
export async function sendDownload(res: Response, plan: DownloadPlan): Promise<void> {
  res.set(plan.headers);
  if (plan.status === 416) {
    // Rendered by the global filter in the usual error shape; Content-Range stays set.
    throw DocumentsErrors.rangeNotSatisfiable();
  }
  res.status(plan.status);
  if (!plan.body) {
    res.end();
    return;
  }
  try {
    await pipeline(plan.body, res);
  } catch {
    // Client went away or storage failed mid-stream: headers are sent, so all we can do is cut the connection.
    plan.body.destroy();
    res.destroy();
  }
}

export function downloadConditions(req: Request): DownloadConditions {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  return {
    method: req.method,
    range: header('range'),
    ifMatch: header('if-match'),
    ifUnmodifiedSince: header('if-unmodified-since'),
    ifNoneMatch: header('if-none-match'),
    ifModifiedSince: header('if-modified-since'),
    ifRange: header('if-range'),
  };
}

/**
 * Names the file an upload created (RFC 9110 §15.3.2): `Location` is its URL (without it the created
 * resource is the upload URL itself), and `ETag` its download's ETag, which a client may use in later
 * conditional requests. Express would otherwise send a weak hash of the JSON answer as the ETag, which
 * no download matches: an If-Match with it got 412, an If-None-Match never a 304.
 */
export function describeCreatedFile(res: Response, uploaded: UploadResponse): UploadResponse {
  res.location(uploaded.file_url).set('ETag', fileEtag(uploaded.sha256));
  return uploaded;
}
