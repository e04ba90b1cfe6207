import type { Response } from 'express';

/**
 * Media types a browser shows without running anything of the file's: served inline. Everything else (HTML, SVG,
 * XML, JavaScript, and any type not listed, since a browser may run more than we know of) is a download.
 */
const SHOWN_INLINE: ReadonlySet<string> = new Set(['application/pdf', 'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'text/plain']);

/** A media type as RFC 9110 writes one (`type/subtype`, optional parameters); anything else is served as bytes. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;[\x20-\x7e]*)?$/;

/**
 * Sets the headers of a Binary served as its own content (issue 24 item 13): an uploaded file is someone else's
 * content on this service's origin, so it must never run there. Every download is sandboxed (`sandbox` gives it an
 * opaque origin: no cookies, storage or same-origin requests, no scripts) and never sniffed; a type a browser could
 * run is an attachment, saved rather than shown. Returns the Content-Type to send.
 */
export function setBinaryDownloadHeaders(res: Response, storedContentType: string | undefined, id: string, filename?: string): string {
  const declared = (storedContentType ?? '').trim();
  const contentType = MEDIA_TYPE.test(declared) ? declared : 'application/octet-stream';
  const base = contentType.split(';')[0].trim().toLowerCase();
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
  const disposition = SHOWN_INLINE.has(base) ? 'inline' : 'attachment';
  const name = filename ? filenameParameters(filename) : `filename="Binary-${id.replace(/[^A-Za-z0-9.-]/g, '')}"`;
  res.setHeader('Content-Disposition', `${disposition}; ${name}`);
  return contentType;
}

/** `filename="..."` with the name in ASCII, and in full as RFC 6266's filename*. */
function filenameParameters(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
