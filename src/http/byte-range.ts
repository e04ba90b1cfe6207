import type { ByteRange } from '../fhir/binary/binary-store';

/**
 * The one range a `Range` header asks of content of `size` bytes (RFC 9110 §14): `bytes=0-99`, `bytes=100-` or
 * `bytes=-100`. Undefined (serve it all) for no header, another unit, several ranges or a malformed one, as the RFC
 * allows; 'unsatisfiable' when the range starts past the end (a 416).
 */
export function requestedRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = header ? /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header) : null;
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
