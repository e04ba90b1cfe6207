/**
 * File content out of resource JSON, on every write: a Binary's `data` becomes stored content its JSON describes
 * (binary-content.ts), and an Attachment's inline `data` becomes a Binary of its own that the attachment points at
 * (`url`, `size`, `hash`), so no resource JSON carries megabytes. Every attachment of a message (Communication) is
 * moved, and any other of more than INLINE_ATTACHMENT_BYTES: a short note kept inline stays readable where it is (the
 * C-CDA Notes section renders it). Size limits are checked here, before anything is decoded or written.
 */
import { createHash } from 'node:crypto';
import { getDataType, toTypedValue, type TypedValueWithPath } from '@medplum/core';
import type { Attachment, Binary, Resource } from '@medplum/fhirtypes';
import { crawlTypedValue, type CrawlerVisitor } from '../validator/crawler';
import { badRequest } from '../outcomes';
import type { ReceivedContent } from './binary-store';
import { storedContentOf, withStoredContent } from './binary-content';
import { base64Size, contentFromBase64 } from './content-receiver';
import { fileTooLarge, tooManyFiles, type UploadLimits } from './upload-limits';

/** Inline attachments up to this size stay in the resource (outside messages). */
export const INLINE_ATTACHMENT_BYTES = 64 * 1024;

/** Content to store with a write, and the type it is stored as. */
export interface ContentToStore {
  readonly content: ReceivedContent;
  readonly contentType: string;
}

/** A resource as it is written, with the content and the new Binaries its inline files became. */
export interface Detached {
  readonly resource: Resource & { id: string };
  readonly contents: readonly ContentToStore[];
  /** One per moved attachment, its id derived from where it sits and what it holds (see attachmentBinaryId). */
  readonly binaries: readonly (Binary & { id: string })[];
  /** A Binary whose JSON describes stored content the client did not send (see checkRestatedContent). */
  readonly describedByClient: boolean;
}

/**
 * Takes the file content out of `resource` (see the header); `content` is a raw upload's bytes for a Binary. Throws
 * 413 when a file is over `limits`, 400 when base64 is not. The input is not changed.
 */
export function detachContent(
  resource: Resource & { id: string },
  limits: UploadLimits,
  content?: ReceivedContent,
  filename?: string,
): Detached {
  if (resource.resourceType === 'Binary') return detachBinary(resource, limits, content, filename);
  if (limits.filesPerMessage !== undefined && resource.resourceType === 'Communication') {
    const count = (resource.payload ?? []).filter((p) => p.contentAttachment).length;
    if (count > limits.filesPerMessage) throw tooManyFiles(limits, count);
  }
  if (!holdsInlineData(resource)) return { resource, contents: [], binaries: [], describedByClient: false };
  const copy = copyOf(resource);
  const found: { attachment: Attachment; path: string }[] = [];
  crawlTypedValue(toTypedValue(copy), attachmentFinder(found), { schema: getDataType(copy.resourceType), initialPath: copy.resourceType });
  const contents: ContentToStore[] = [];
  const binaries: (Binary & { id: string })[] = [];
  for (const { attachment, path } of found) {
    const data = attachment.data as string;
    const size = base64Size(data);
    if (size > limits.fileBytes) throw fileTooLarge(limits, size, path);
    // A file sent both inline and by link is the message rules' to refuse; elsewhere it stays as sent.
    if (attachment.url !== undefined || (copy.resourceType !== 'Communication' && size <= INLINE_ATTACHMENT_BYTES)) continue;
    const received = contentFromBase64(data, `${path}.data`);
    const contentType = attachment.contentType ?? 'application/octet-stream';
    const id = attachmentBinaryId(`${copy.resourceType}/${copy.id}`, path, contentType, received.sha256);
    const filename = attachment.title;
    binaries.push(
      withStoredContent<Binary & { id: string }>(
        { resourceType: 'Binary', id, contentType, securityContext: { reference: `${copy.resourceType}/${copy.id}` } },
        { sha256: received.sha256, size: received.size, ...(filename ? { filename } : {}) },
      ),
    );
    contents.push({ content: received, contentType });
    delete attachment.data;
    Object.assign(attachment, { url: `Binary/${id}`, size: received.size, hash: received.sha1 });
  }
  return { resource: copy, contents, binaries, describedByClient: false };
}

function detachBinary(binary: Binary & { id: string }, limits: UploadLimits, content?: ReceivedContent, filename?: string): Detached {
  const contentType = binary.contentType ?? 'application/octet-stream';
  if (content) {
    if (content.size > limits.fileBytes) throw fileTooLarge(limits, content.size);
    return {
      resource: withStoredContent(binary, { sha256: content.sha256, size: content.size, filename }),
      contents: [{ content, contentType }],
      binaries: [],
      describedByClient: false,
    };
  }
  if (binary.data !== undefined) {
    const size = base64Size(binary.data);
    if (size > limits.fileBytes) throw fileTooLarge(limits, size, 'Binary.data');
    const received = contentFromBase64(binary.data, 'Binary.data');
    return {
      resource: withStoredContent(binary, { sha256: received.sha256, size: received.size, filename }),
      contents: [{ content: received, contentType }],
      binaries: [],
      describedByClient: false,
    };
  }
  return { resource: binary, contents: [], binaries: [], describedByClient: storedContentOf(binary) !== undefined };
}

/**
 * A Binary's JSON may describe stored content only as the version it replaces does (a client restating what it
 * read, to change the securityContext say): describing other content would reach bytes by their hash alone.
 */
export function checkRestatedContent(detached: Detached, replaced: Resource | undefined): void {
  if (!detached.describedByClient) return;
  const given = storedContentOf(detached.resource as Binary);
  const stored = replaced?.resourceType === 'Binary' ? storedContentOf(replaced) : undefined;
  if (!given || !stored || given.sha256 !== stored.sha256 || given.size !== stored.size) {
    throw badRequest(
      "A Binary sends its content as data (base64) or as the raw body of the upload; the content extension of Binary._data is the service's",
      'Binary._data',
    );
  }
}

/**
 * The id of the Binary an attachment's content becomes: the same resource restating the same file at the same place
 * names the same Binary, so importing a document again (or saving a draft again) adds nothing.
 */
export function attachmentBinaryId(owner: string, path: string, contentType: string, sha256: string): string {
  const hex = createHash('sha256').update(`${owner}|${path}|${contentType}|${sha256}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Collects every Attachment that holds inline data, with its FHIRPath location. */
function attachmentFinder(found: { attachment: Attachment; path: string }[]): CrawlerVisitor {
  const visit = (value: TypedValueWithPath): void => {
    if (value.type === 'Attachment' && typeof (value.value as Attachment)?.data === 'string')
      found.push({ attachment: value.value as Attachment, path: value.path });
  };
  return {
    onExitObject: () => undefined,
    onEnterResource: () => undefined,
    onExitResource: () => undefined,
    visitMissingProperty: () => undefined,
    visitProperty: (_parent, _key, _path, values) => {
      for (const value of values) for (const v of Array.isArray(value) ? value : [value]) visit(v);
    },
  };
}

/**
 * Whether any object in the resource has a string `data`: a walk without allocations before the typed one, as it
 * runs on every write (an import's thousands of resources among them).
 */
function holdsInlineData(value: unknown): boolean {
  if (Array.isArray(value)) {
    for (const item of value) if (typeof item === 'object' && item !== null && holdsInlineData(item)) return true;
    return false;
  }
  const object = value as Record<string, unknown>;
  for (const key in object) {
    const item = object[key];
    if (key === 'data' ? typeof item === 'string' : typeof item === 'object' && item !== null && holdsInlineData(item)) return true;
  }
  return false;
}

/** A copy of objects and arrays (strings, however long, are shared: they cannot change). */
function copyOf<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copyOf) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyOf(v)])) as T;
  return value;
}
