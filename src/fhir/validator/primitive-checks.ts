/*
 * Adapted from @medplum/core 4.5 (src/typeschema/validation.ts, validateString and validateNumber),
 * Copyright Orangebot, Inc. and Medplum contributors, Apache-2.0. Kept as medplum has them, as pure
 * functions, so that the validator gives the same messages; one check added (impossible calendar days).
 */
import { PropertyType, validationRegexes } from '@medplum/core';
import { daysInMonth } from '../../access/calendar-date';
import { isWellFormed, LONE_SURROGATE } from '../input-limits';

/** What is wrong with a string value of FHIR type `type` (medplum's message), or undefined. */
export function stringProblem(str: string, type: string): string | undefined {
  if (!str.trim()) return 'String must contain non-whitespace content';
  // Every way in (JSON bodies, C-CDA text, import files) ends here: a lone surrogate cannot be stored as jsonb or XML.
  if (!isWellFormed(str)) return LONE_SURROGATE;
  // R4 limits `string` (and the types built on it) to 1 MB: https://hl7.org/fhir/R4/datatypes.html#string.
  // base64Binary is no string and has no such limit; its content is checked by a linear scan, not the format's
  // regular expression, which is slow over megabytes.
  if (type === PropertyType.base64Binary) return base64Problem(str);
  if (str.length > 1024 * 1024) return 'String cannot be larger than 1 MB';
  const regex = validationRegexes[type];
  if (regex && !regex.exec(str)) return 'Invalid ' + type + ' format';
  // The format lets 1984-02-30 through; a date, dateTime or instant must name a day the calendar has.
  if (type === PropertyType.date || type === PropertyType.dateTime || type === PropertyType.instant) {
    const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(str);
    if (day && Number(day[3]) > daysInMonth(Number(day[1]), Number(day[2])))
      return `Invalid ${type}: ${day[0]} is not a day of the calendar`;
  }
  return undefined;
}

/** medplum's base64Binary format (groups of four, `=` padding at the end only), checked without a regex over the whole. */
function base64Problem(str: string): string | undefined {
  const padding = str.endsWith('==') ? 2 : str.endsWith('=') ? 1 : 0;
  const bad = str.length % 4 !== 0 || /[^A-Za-z0-9+/=]/.test(str) || (str.includes('=') && str.indexOf('=') < str.length - padding);
  return bad ? 'Invalid base64Binary format' : undefined;
}

/** What is wrong with a numeric value of FHIR type `type` (medplum's message), or undefined. */
export function numberProblem(n: number, type: string): string | undefined {
  if (Number.isNaN(n) || !Number.isFinite(n)) return 'Invalid numeric value';
  if (isIntegerType(type) && !Number.isInteger(n)) return 'Expected number to be an integer';
  // FHIR's integer is 32-bit (https://hl7.org/fhir/R4/datatypes.html#integer); JSON would carry 1e20 as one.
  if (isIntegerType(type) && (n > 2147483647 || n < -2147483648))
    return 'Expected number to be a 32-bit integer (-2147483648 to 2147483647)';
  if (type === PropertyType.positiveInt && n <= 0) return 'Expected number to be positive';
  if (type === PropertyType.unsignedInt && n < 0) return 'Expected number to be non-negative';
  return undefined;
}

function isIntegerType(type: string): boolean {
  return type === PropertyType.integer || type === PropertyType.positiveInt || type === PropertyType.unsignedInt;
}
