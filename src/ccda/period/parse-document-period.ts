import { badRequest } from '../../fhir/outcomes';
import type { DocumentPeriod } from './select-for-period';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function checkDate(name: string, value: string): string {
  const m = DATE.exec(value);
  const valid =
    m !== null &&
    (() => {
      const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
    })();
  if (!valid) throw badRequest(`${name} must be a calendar date as YYYY-MM-DD, got "${value}"`, name);
  return value;
}

/**
 * The document period from `start`/`end` request parameters: both optional calendar dates (YYYY-MM-DD),
 * inclusive. Throws a FhirError (400) for malformed or impossible dates and for start after end.
 */
export function parseDocumentPeriod(start?: string | null, end?: string | null): DocumentPeriod {
  const s = start ? checkDate('start', start) : undefined;
  const e = end ? checkDate('end', end) : undefined;
  if (s && e && s > e) throw badRequest(`start (${s}) is after end (${e})`, 'start');
  return { start: s, end: e };
}
