/**
 * How a Binary's JSON describes content kept in the BinaryStore: R4's Binary has no element for a size or a hash,
 * so `data` is given as a primitive without a value whose extension says what the value is (`_data`, FHIR JSON's form
 * for a primitive's extensions): `size` (bytes), `sha256` (hex, the content's name in the store) and, when known,
 * `filename`. A client never sets it: it sends `data`, or the bytes as a raw upload.
 */
import type { Binary, Extension } from '@medplum/fhirtypes';
import type { ContentDescriptor } from './binary-store';

/** The extension on `Binary._data` (migration 0011-binary-content writes the same). */
export const BINARY_CONTENT_EXTENSION = 'https://chartkeeper.example/fhir/StructureDefinition/binary-content';

/** Stored content as a Binary describes it. */
export interface StoredContent extends ContentDescriptor {
  /** The file's name, when the upload gave one (Content-Disposition) or the attachment it came from had a title. */
  readonly filename?: string;
}

type WithDataElement = Binary & { _data?: { extension?: Extension[] } };

/** What a stored Binary's `_data` says about its content; undefined when it names none. */
export function storedContentOf(binary: Binary): StoredContent | undefined {
  const extension = (binary as WithDataElement)._data?.extension?.find((e) => e.url === BINARY_CONTENT_EXTENSION);
  if (!extension) return undefined;
  const part = (url: string) => extension.extension?.find((e) => e.url === url);
  const size = part('size')?.valueInteger;
  const sha256 = part('sha256')?.valueString;
  if (typeof size !== 'number' || typeof sha256 !== 'string') return undefined;
  const filename = part('filename')?.valueString;
  return { size, sha256, ...(filename ? { filename } : {}) };
}

/** The Binary with `data` replaced by the description of its stored content. */
export function withStoredContent<T extends Binary>(binary: T, content: StoredContent): T {
  const { data: _data, ...rest } = binary as WithDataElement;
  const parts: Extension[] = [
    { url: 'size', valueInteger: content.size },
    { url: 'sha256', valueString: content.sha256 },
    ...(content.filename ? [{ url: 'filename', valueString: content.filename }] : []),
  ];
  return { ...rest, _data: { extension: [{ url: BINARY_CONTENT_EXTENSION, extension: parts }] } } as unknown as T;
}

/** The Binary without the description of its content (the FHIR JSON form, whose `data` is built when it is served). */
export function withoutStoredContent(binary: Binary): Binary {
  const { _data, ...rest } = binary as WithDataElement;
  const others = _data?.extension?.filter((e) => e.url !== BINARY_CONTENT_EXTENSION);
  return (others?.length ? { ...rest, _data: { ..._data, extension: others } } : rest) as Binary;
}
