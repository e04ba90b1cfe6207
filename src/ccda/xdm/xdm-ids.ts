import { createHash } from 'node:crypto';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A UUID as its 2.25 OID (ITU-T X.667), the form XDS uniqueIds take. */
export function uuidToOid(uuid: string): string {
  return `2.25.${BigInt(`0x${uuid.replace(/-/g, '')}`).toString(10)}`;
}

/** An XDS uniqueId for a document id: OIDs as they are, UUIDs as 2.25 OIDs, anything else under `root`. */
export function xdsUniqueId(id: string, root: string): string {
  if (/^[0-2](\.(0|[1-9][0-9]*))+$/.test(id)) return id;
  if (UUID.test(id)) return uuidToOid(id);
  return `${root}^${id}`;
}

/** A deterministic name-based UUID (SHA-1, version 5 layout) so the same input always packs the same zip. */
export function stableUuid(...parts: string[]): string {
  const h = createHash('sha1').update(parts.join('\u0000')).digest('hex').slice(0, 32).split('');
  h[12] = '5';
  h[16] = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** XDS DTM: UTC, YYYYMMDDHHMMSS. */
export function xdsTime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
