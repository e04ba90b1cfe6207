/**
 * FHIR dates have precision: "2020" means the whole year. Search compares intervals, so every
 * stored or searched date becomes the closed interval [low, high] it covers.
 */
export interface DateRange {
  /** ISO instant, or '-infinity'. */
  readonly low: string;
  /** ISO instant, or 'infinity'. */
  readonly high: string;
}

const DATE_PATTERN = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** True when the text is a FHIR date, dateTime or instant. */
export function isFhirDate(value: string): boolean {
  const m = DATE_PATTERN.exec(value);
  if (!m) return false;
  const month = m[2] ? Number(m[2]) : 1;
  const day = m[3] ? Number(m[3]) : 1;
  if (month < 1 || month > 12) return false;
  const daysInMonth = new Date(Date.UTC(Number(m[1]), month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return false;
  if (m[4] && (Number(m[4]) > 23 || Number(m[5]) > 59 || (m[6] !== undefined && Number(m[6]) > 60))) return false;
  return true;
}

/**
 * The interval a FHIR date covers at its precision. Values without a time zone are read as UTC
 * (FHIR leaves their zone to the server); returns undefined for text that is not a date.
 */
export function dateRange(value: string): DateRange | undefined {
  const m = DATE_PATTERN.exec(value);
  if (!m || !isFhirDate(value)) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  if (!mo) return { low: utc(year, 0, 1), high: end(utc(year + 1, 0, 1)) };
  const month = Number(mo) - 1;
  if (!d) return { low: utc(year, month, 1), high: end(utc(year, month + 1, 1)) };
  const day = Number(d);
  if (!h) return { low: utc(year, month, day), high: end(utc(year, month, day + 1)) };
  const offset = zone && zone !== 'Z' ? zoneMinutes(zone) : 0;
  const base = Date.UTC(year, month, day, Number(h), Number(mi), s ? Number(s) : 0) - offset * 60_000;
  if (!s) return { low: new Date(base).toISOString(), high: new Date(base + 59_999).toISOString() };
  const ms = frac ? Math.floor(Number(frac) * 1000) : 0;
  if (frac) return { low: new Date(base + ms).toISOString(), high: new Date(base + ms).toISOString() };
  return { low: new Date(base).toISOString(), high: new Date(base + 999).toISOString() };
}

function utc(year: number, month: number, day: number): string {
  return new Date(Date.UTC(year, month, day)).toISOString();
}

function end(nextStart: string): string {
  return new Date(Date.parse(nextStart) - 1).toISOString();
}

function zoneMinutes(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
}
