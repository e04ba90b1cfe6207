/**
 * Calendar dates as `YYYY-MM-DD` strings. Age rules work on the organization's local calendar day, not on
 * instants, so these helpers never touch a `Date` except to read "today" in a time zone.
 */

const FULL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const FHIR_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

/** A calendar date split into numbers (month 1-12). */
export interface DateParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** True when the year has a February 29. */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Number of days in a month (1-12) of a year. */
export function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeapYear(year) ? 29 : 28) : [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** Parses a full `YYYY-MM-DD` date, throwing a RangeError for anything else (including 2023-02-29). */
export function parseDate(date: string): DateParts {
  const m = FULL_DATE.exec(date);
  if (!m) {
    throw new RangeError(`Not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
  }
  const parts = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  if (parts.month < 1 || parts.month > 12 || parts.day < 1 || parts.day > daysInMonth(parts.year, parts.month)) {
    throw new RangeError(`Not a calendar date: ${date}`);
  }
  return parts;
}

/** True when the string is a real `YYYY-MM-DD` calendar date. */
export function isFullDate(date: string): boolean {
  try {
    parseDate(date);
    return true;
  } catch {
    return false;
  }
}

/** Formats date parts as `YYYY-MM-DD`. */
export function formatDate(parts: DateParts): string {
  return `${String(parts.year).padStart(4, '0')}-${String(parts.month).padStart(2, '0')}-${String(parts.day).padStart(2, '0')}`;
}

/** The date `days` days after (or before, if negative) `date`. */
export function addDays(date: string, days: number): string {
  const { year, month, day } = parseDate(date);
  const t = new Date(Date.UTC(year, month - 1, day) + days * 86_400_000);
  return formatDate({ year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() });
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  const a = parseDate(from);
  const b = parseDate(to);
  return Math.round((Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / 86_400_000);
}

/** One formatter per time zone (a few hundred exist): making one costs far more than using it, and todayIn runs on every portal request. */
const DAY_FORMATS = new Map<string, Intl.DateTimeFormat>();

/** Per time zone, the last second todayIn read a date for, and that date. */
const LAST_DAY = new Map<string, { readonly second: number; readonly date: string }>();

function dayFormat(timeZone: string): Intl.DateTimeFormat {
  let format = DAY_FORMATS.get(timeZone);
  if (!format) {
    // Throws RangeError for an unknown zone, which is what a misconfigured server should do at boot.
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      calendar: 'gregory',
      numberingSystem: 'latn',
    });
    DAY_FORMATS.set(timeZone, format);
  }
  return format;
}

/**
 * Today's calendar date in an IANA time zone at the instant `now`. The organization's zone decides when a
 * birthday starts: at 04:30Z on a birthday it is still the day before in America/New_York.
 */
export function todayIn(timeZone: string, now: Date): string {
  const time = now.getTime();
  if (Number.isNaN(time)) {
    throw new RangeError('todayIn: invalid Date');
  }
  // Every UTC offset in the time zone database is a whole number of seconds, so a local day starts on a whole UTC
  // second: the date read for one instant holds for the rest of its second. formatToParts was about 1% of a portal
  // search's CPU profile (it runs for every request of a caller taken on trust); a request in the same second as the
  // last one in that zone reuses its answer.
  const second = Math.floor(time / 1000);
  const known = LAST_DAY.get(timeZone);
  if (known?.second === second) return known.date;
  const parts = dayFormat(timeZone).formatToParts(now);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const date = formatDate({ year: get('year'), month: get('month'), day: get('day') });
  LAST_DAY.set(timeZone, { second, date });
  return date;
}

/**
 * The first and last full dates a FHIR `date` (YYYY, YYYY-MM or YYYY-MM-DD) can stand for, so that a
 * partial birth date can be judged by every birthday it allows. Returns undefined for a malformed value.
 */
export function fhirDateBounds(value: string): { earliest: string; latest: string } | undefined {
  const m = FHIR_DATE.exec(value);
  if (!m) {
    return undefined;
  }
  const year = Number(m[1]);
  if (m[3] !== undefined) {
    return isFullDate(value) ? { earliest: value, latest: value } : undefined;
  }
  if (m[2] !== undefined) {
    const month = Number(m[2]);
    if (month < 1 || month > 12) {
      return undefined;
    }
    return {
      earliest: formatDate({ year, month, day: 1 }),
      latest: formatDate({ year, month, day: daysInMonth(year, month) }),
    };
  }
  return { earliest: formatDate({ year, month: 1, day: 1 }), latest: formatDate({ year, month: 12, day: 31 }) };
}
