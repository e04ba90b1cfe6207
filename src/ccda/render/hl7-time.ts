/**
 * FHIR date/dateTime/instant <-> HL7 V3 TS. Precision and time zone are kept exactly as written:
 * "2011-08" -> "201108", "2011-08-05T09:24:03.908+02:00" -> "20110805092403.908+0200". Never reinterpreted
 * in another zone, so the document says what the record says.
 */
const FHIR_DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Converts a FHIR date/dateTime/instant to an HL7 TS value, or undefined when it is not one. */
export function toHl7Ts(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = FHIR_DATE_TIME.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  let out = y + (mo ?? '') + (d ?? '');
  if (h !== undefined) {
    out += h + mi + (s ?? '');
    if (s !== undefined && frac) out += frac;
    if (tz) out += tz === 'Z' ? '+0000' : tz.replace(':', '');
  }
  return out;
}

/** The document timestamp for `now`, to the second, in UTC (explicit +0000). */
export function hl7Now(now: Date): string {
  const iso = now.toISOString(); // 2026-11-21T23:59:59.123Z
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + '+0000';
}

/** A FHIR date/dateTime as people read it in the narrative: "2011-08-05 09:24:03 +00:00" (no reinterpretation). */
export function displayDateTime(value: string | undefined): string {
  if (!value) return '';
  if (value.length <= 10) return value;
  const m = DISPLAY.exec(value);
  if (!m) return value;
  return `${m[1]} ${m[2]}${m[3] ? (m[3] === 'Z' ? ' UTC' : ` ${m[3]}`) : ''}`;
}

const DISPLAY = /^(\d{4}-\d{2}-\d{2})T([\d:.]+)(Z|[+-]\d{2}:\d{2})?$/;
