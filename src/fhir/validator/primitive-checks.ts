/*
 * Adapted from @medplum/core 4.5 (src/typeschema/validation.ts, validateString and validateNumber),
 * Copyright Orangebot, Inc. and Medplum contributors, Apache-2.0. Kept as medplum has them, as pure
 * functions, so that the validator gives the same messages.
 */
import { PropertyType, validationRegexes } from '@medplum/core';

/** What is wrong with a string value of FHIR type `type` (medplum's message), or undefined. */
export function stringProblem(str: string, type: string): string | undefined {
  if (!str.trim()) return 'String must contain non-whitespace content';
  // FHIR strings have a maximum length of 1 MB: https://hl7.org/fhir/R4/datatypes.html#string
  if (str.length > 1024 * 1024) return 'String cannot be larger than 1 MB';
  const regex = validationRegexes[type];
  if (regex && !regex.exec(str)) return 'Invalid ' + type + ' format';
  return undefined;
}

/** What is wrong with a numeric value of FHIR type `type` (medplum's message), or undefined. */
export function numberProblem(n: number, type: string): string | undefined {
  if (Number.isNaN(n) || !Number.isFinite(n)) return 'Invalid numeric value';
  if (isIntegerType(type) && !Number.isInteger(n)) return 'Expected number to be an integer';
  if (type === PropertyType.positiveInt && n <= 0) return 'Expected number to be positive';
  if (type === PropertyType.unsignedInt && n < 0) return 'Expected number to be non-negative';
  return undefined;
}

function isIntegerType(type: string): boolean {
  return type === PropertyType.integer || type === PropertyType.positiveInt || type === PropertyType.unsignedInt;
}
