/**
 * Binary content over HTTP, as bytes: an upload's raw body is hashed and held as it arrives (no base64, no JSON),
 * and a download streams the stored parts with the file's own type, its size, a version ETag and Range support.
 * The FHIR JSON form of a Binary is streamed too, its `data` encoded from the stored bytes part by part.
 */
import type { Binary } from '@medplum/fhirtypes';
import { createGunzip, createInflate } from 'node:zlib';
import type { Request, Response } from 'express';
import { storedContentOf, withoutStoredContent } from '../fhir/binary/binary-content';
import type { ContentDescriptor, ReceivedContent } from '../fhir/binary/binary-store';
import { ContentReceiver } from '../fhir/binary/content-receiver';
import { fileTooLarge, type UploadLimits } from '../fhir/binary/upload-limits';
import { badRequest, FhirError, unsupportedMediaType } from '../fhir/outcomes';
import type { Repository, StoredVersion } from '../fhir/repository';
import { setBinaryDownloadHeaders } from './binary-download-headers';
import { requestedRange } from './byte-range';
import { FHIR_JSON } from './fhir-response';

/**
 * Receives a raw request body as Binary content. Past `limits` (by Content-Length, or by the bytes as they come) the
 * rest is read off and dropped, and the answer is a 413: the client hears it, rather than a reset connection, and
 * nothing was kept. A body cut off before its end is refused; nothing was written, as writing starts only after.
 */
export function receiveContent(req: Request, limits: UploadLimits): Promise<ReceivedContent> {
  return new Promise((resolve, reject) => {
    const receiver = new ContentReceiver();
    const declared = Number(req.headers['content-length']);
    let over = Number.isFinite(declared) && declared > limits.fileBytes;
    let settled = false;
    const settle = (fn: () => void): void => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    // A Content-Encoding is decoded as the JSON bodies' is (gzip, deflate); the file is what it encodes, and the limit
    // holds for the decoded bytes. Bytes that are not what the header says are the client's 400 (issue 24 item 8).
    const encoding = String(req.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      req.resume();
      return settle(() => reject(unsupportedMediaType(`unsupported content encoding "${encoding}"`)));
    }
    const body: NodeJS.ReadableStream = encoding === 'identity' ? req : req.pipe(encoding === 'gzip' ? createGunzip() : createInflate());
    if (body !== req) {
      body.on('error', (err: Error) => {
        req.resume();
        settle(() => reject(badRequest(`The body could not be decoded as its Content-Encoding says (${err.message})`)));
      });
      over = false; // Content-Length counts the encoded bytes
    }
    body.on('data', (chunk: Buffer) => {
      if (over) return;
      if (receiver.size + chunk.length > limits.fileBytes) {
        over = true;
        return;
      }
      receiver.add(chunk);
    });
    body.on('end', () =>
      settle(() =>
        over ? reject(fileTooLarge(limits, Number.isFinite(declared) && body === req ? declared : undefined)) : resolve(receiver.finish()),
      ),
    );
    req.on('error', () => settle(() => reject(cutOff())));
    req.on('close', () => {
      // With a decoder, its 'end' may follow the request's close: only a request that did not arrive whole is cut off.
      if (body === req || !req.complete) settle(() => reject(cutOff()));
    });
  });
}

function cutOff(): FhirError {
  return badRequest('The upload ended before all of its body arrived; nothing was stored');
}

/** The file name an upload gives in `Content-Disposition: attachment; filename="scan.pdf"`, if any. */
export function uploadFilename(req: Request): string | undefined {
  const header = req.headers['content-disposition'];
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header)?.[1];
  if (extended) {
    try {
      return cleanFilename(decodeURIComponent(extended.trim()));
    } catch {
      return undefined;
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(header);
  return cleanFilename((plain?.[1] ?? plain?.[2])?.replace(/\\(.)/g, '$1'));
}

/** A file name without folders or control characters, at most 255 characters; undefined when nothing is left. */
function cleanFilename(name: string | undefined): string | undefined {
  const clean = name
    ?.split(/[\\/]/)
    .pop()
    // eslint-disable-next-line no-control-regex -- the control characters are what it removes
    ?.replace(/[\u0000-\u001f\u007f"]/g, '')
    .trim()
    .slice(0, 255);
  return clean || undefined;
}

/** A Binary as stored, with the content its JSON names (undefined for a Binary without content). */
function contentOfStored(stored: StoredVersion): { binary: Binary; content: (ContentDescriptor & { filename?: string }) | undefined } {
  const binary = JSON.parse(stored.content) as Binary;
  return { binary, content: storedContentOf(binary) };
}

/**
 * Sends a stored Binary version's bytes: its contentType, Content-Length, ETag (the version), Last-Modified,
 * Content-Disposition with its file name when it has one, and one byte range when asked (206; 416 past the end).
 */
export async function sendBinaryContent(req: Request, res: Response, repo: Repository, stored: StoredVersion): Promise<void> {
  const { binary, content } = contentOfStored(stored);
  const size = content?.size ?? 0;
  const range = requestedRange(req.headers['if-range'] === undefined ? req.headers.range : undefined, size);
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${size}`);
    throw new FhirError(416, {
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'error', code: 'invalid', details: { text: `The range ${req.headers.range} is outside the file's ${size} bytes` } },
      ],
    });
  }
  res.setHeader('Content-Type', setBinaryDownloadHeaders(res, binary.contentType, binary.id ?? '', content?.filename));
  res.setHeader('ETag', `W/"${stored.version}"`);
  res.setHeader('Last-Modified', stored.lastUpdated.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : size));
  if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  res.status(range ? 206 : 200);
  if (req.method === 'HEAD' || !content || !size) return void res.end();
  await streamOut(res, repo.openContent(content, range));
}

/**
 * Sends a stored Binary version as FHIR JSON, `data` being its bytes in base64, encoded part by part on the way
 * out (no copy of the whole file, nor of its base64, is made).
 */
export async function sendBinaryJson(req: Request, res: Response, repo: Repository, stored: StoredVersion): Promise<void> {
  const { binary, content } = contentOfStored(stored);
  res.setHeader('ETag', `W/"${stored.version}"`);
  res.setHeader('Last-Modified', stored.lastUpdated.toUTCString());
  res.setHeader('Content-Type', FHIR_JSON);
  // FHIR has no empty string: a Binary without content, or with none of it, has no data.
  if (!content?.size) return void res.status(200).send(JSON.stringify(withoutStoredContent(binary)));
  const marker = '\u0000data\u0000';
  const [prefix, suffix] = JSON.stringify({ ...withoutStoredContent(binary), data: marker }).split(JSON.stringify(marker));
  const head = Buffer.from(`${prefix}"`, 'utf8');
  const tail = Buffer.from(`"${suffix}`, 'utf8');
  res.setHeader('Content-Length', String(head.length + 4 * Math.ceil(content.size / 3) + tail.length));
  res.status(200);
  if (req.method === 'HEAD') return void res.end();
  await streamOut(res, base64Chunks(repo.openContent(content)), head, tail);
}

/** Base64 of a stream of byte chunks, each output chunk whole groups of 3 bytes (the carry goes to the next). */
async function* base64Chunks(chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  let carry = Buffer.alloc(0);
  for await (const chunk of chunks) {
    const bytes = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % 3);
    if (whole) yield Buffer.from(bytes.subarray(0, whole).toString('base64'), 'latin1');
    carry = Buffer.from(bytes.subarray(whole));
  }
  if (carry.length) yield Buffer.from(carry.toString('base64'), 'latin1');
}

/**
 * Writes the chunks to the response as the client takes them (waiting on 'drain'), then ends it. A failure once
 * bytes have gone out cannot become an OperationOutcome: the connection is cut, so the client sees a short body.
 */
async function streamOut(res: Response, chunks: AsyncIterable<Buffer>, head?: Buffer, tail?: Buffer): Promise<void> {
  try {
    if (head) await write(res, head);
    for await (const chunk of chunks) {
      if (res.destroyed) return;
      await write(res, chunk);
    }
    if (tail) await write(res, tail);
    res.end();
  } catch (err) {
    if (!res.headersSent) throw err;
    res.destroy(err instanceof Error ? err : undefined);
  }
}

function write(res: Response, chunk: Buffer): Promise<void> {
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
