import type { AccessScope } from '../../access/access-scope';
import { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS } from '../../access/write-policy';
import { FhirError } from '../outcomes';

/** MAX_BINARY_BYTES's default: the largest file staff and systems may store (100 MB). */
export const DEFAULT_MAX_BINARY_BYTES = 100 * 1024 * 1024;

/** How large a file a caller may store, and how many a portal message may carry. */
export interface UploadLimits {
  /** Largest file, in bytes. */
  readonly fileBytes: number;
  /** What the limit is, as a 413 names it. */
  readonly name: string;
  /** Most attachments of one message (portal callers). */
  readonly filesPerMessage?: number;
}

/**
 * A portal caller's files are at most 10 MB each and 10 to a message (the portal's promise); staff and systems store
 * files up to MAX_BINARY_BYTES.
 */
export function uploadLimitsFor(scope: AccessScope, maxBinaryBytes: number = DEFAULT_MAX_BINARY_BYTES): UploadLimits {
  if (scope.portalRules)
    return { fileBytes: MAX_ATTACHMENT_BYTES, name: 'the portal limit of 10 MB per file', filesPerMessage: MAX_ATTACHMENTS };
  return { fileBytes: maxBinaryBytes, name: `the limit of ${megabytes(maxBinaryBytes)} per file (MAX_BINARY_BYTES)` };
}

/** 413: a file over the caller's limit (`size` when known; an upload refused by its Content-Length is not read). */
export function fileTooLarge(limits: UploadLimits, size?: number, expression?: string): FhirError {
  const what = size === undefined ? 'The file is larger than' : `The file is ${megabytes(size)}, more than`;
  return tooLarge(`${what} ${limits.name}; nothing was stored`, expression);
}

/** 413: a portal message with more attachments than it may carry. */
export function tooManyFiles(limits: UploadLimits, count: number): FhirError {
  return tooLarge(
    `A message carries at most ${limits.filesPerMessage} attachments (the portal limit); this one has ${count}. Nothing was stored`,
    'Communication.payload',
  );
}

/** 413 naming the limit. */
export function tooLarge(text: string, expression?: string): FhirError {
  return new FhirError(413, {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'too-long', details: { text }, ...(expression ? { expression: [expression] } : {}) }],
  });
}

/** Bytes as MB with one decimal (10.1 MB), whole when exact (100 MB). */
export function megabytes(bytes: number): string {
  const mb = bytes / 1024 / 1024;
  return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}
