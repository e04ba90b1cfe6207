import { createHash, type Hash } from 'node:crypto';
import { badRequest } from '../outcomes';
import type { ReceivedContent } from './binary-store';

/** How many of the first bytes are kept for telling a file's type (sniffFileType needs 8). */
const HEAD_BYTES = 16;

/**
 * Takes content in as it arrives (a request body's chunks), hashing it on the way: SHA-256 names it in the store,
 * SHA-1 is what an Attachment's hash holds. Each chunk is kept as it came, so the bytes are held once.
 */
export class ContentReceiver {
  private readonly sha256: Hash = createHash('sha256');
  private readonly sha1: Hash | undefined;
  private readonly chunks: Buffer[] = [];
  private received = 0;

  /** `sha1`: also hash with SHA-1, for content an Attachment will name (a raw upload needs only SHA-256). */
  constructor(options: { sha1?: boolean } = {}) {
    this.sha1 = options.sha1 ? createHash('sha1') : undefined;
  }

  /** Bytes taken in so far. */
  get size(): number {
    return this.received;
  }

  /** Takes in the next chunk. */
  add(chunk: Buffer): void {
    this.sha256.update(chunk);
    this.sha1?.update(chunk);
    this.chunks.push(chunk);
    this.received += chunk.length;
  }

  /** The content taken in; the receiver is done. */
  finish(): ReceivedContent {
    const first = this.chunks[0] ?? Buffer.alloc(0);
    const head =
      first.length >= HEAD_BYTES || this.chunks.length < 2
        ? first.subarray(0, HEAD_BYTES)
        : Buffer.concat(this.chunks).subarray(0, HEAD_BYTES);
    return {
      sha256: this.sha256.digest('hex'),
      ...(this.sha1 ? { sha1: this.sha1.digest('base64') } : {}),
      size: this.received,
      chunks: this.chunks,
      head: Buffer.from(head),
    };
  }
}

/** Bytes already in memory, as received content (`sha1` as for ContentReceiver). */
export function contentOf(bytes: Buffer, options: { sha1?: boolean } = {}): ReceivedContent {
  const receiver = new ContentReceiver(options);
  if (bytes.length) receiver.add(bytes);
  return receiver.finish();
}

/** How many bytes base64 text decodes to, without decoding it (whitespace aside). */
export function base64Size(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) length--;
  }
  const trimmed = text.trimEnd();
  const padding = trimmed.endsWith('==') ? 2 : trimmed.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((length * 3) / 4) - padding);
}

/**
 * The bytes of a base64Binary value, as received content; 400 at `expression` when it is not base64 (the checks are
 * linear: a regular expression over megabytes of text would be slow or overflow).
 */
export function contentFromBase64(text: string, expression: string): ReceivedContent {
  const compact = /\s/.test(text) ? text.replace(/\s+/g, '') : text;
  const padding = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0;
  if (
    compact.length % 4 !== 0 ||
    /[^A-Za-z0-9+/=]/.test(compact) ||
    (compact.includes('=') && compact.indexOf('=') < compact.length - padding)
  ) {
    throw badRequest('Invalid base64Binary format', expression);
  }
  return contentOf(Buffer.from(compact, 'base64'), { sha1: true });
}
