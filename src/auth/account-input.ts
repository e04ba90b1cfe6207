/**
 * Reading the JSON bodies of the account endpoints: every field has a type, a length limit and a clear 400
 * naming it; fields nobody asked for are refused rather than ignored, so a typo ("pasword") is not silently
 * dropped. Values from FHIR Parameters arrive as strings and go through the same checks.
 */
import type { GrantLevel } from '../access/access-level';
import { isFullDate } from '../access/calendar-date';
import { badRequest, invalidResource } from '../fhir/outcomes';
import { isValidEmail, MAX_EMAIL_LENGTH, normalizeEmail } from './account-store';
import { checkPasswordPolicy } from './password-hash';

/** A JSON object body, checked field by field. */
export type Fields = Record<string, unknown>;

/** Operation parameters with absent values dropped (FHIR operation parameters arrive as string | undefined). */
export function definedOnly(params: Record<string, string | undefined>): Fields {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
}

/** The body as an object with only the allowed fields; `where` prefixes field names in messages. */
export function readFields(body: unknown, allowed: readonly string[], where = ''): Fields {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest(where ? `${where} must be a JSON object` : 'The body must be a JSON object (Content-Type: application/json)');
  }
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length) {
    throw badRequest(
      `Unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => where + k).join(', ')}. Allowed: ${allowed.join(', ')}`,
      where + unknown[0],
    );
  }
  return body as Fields;
}

/** A nested object field. */
export function objectField(fields: Fields, name: string, allowed: readonly string[]): Fields {
  if (fields[name] === undefined) throw badRequest(`${name} is required`, name);
  return readFields(fields[name], allowed, `${name}.`);
}

/** A trimmed string field of at most `max` characters; undefined when absent or empty. */
export function optionalString(fields: Fields, name: string, max = 200, where = ''): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest(`${where}${name} must be a string`, where + name);
  const trimmed = value.trim();
  if ([...trimmed].length > max) throw badRequest(`${where}${name} is longer than ${max} characters`, where + name);
  // eslint-disable-next-line no-control-regex -- the control characters are what it refuses
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw badRequest(`${where}${name} contains control characters`, where + name);
  return trimmed === '' ? undefined : trimmed;
}

/** A required, non-empty string field. */
export function requiredString(fields: Fields, name: string, max = 200, where = ''): string {
  const value = optionalString(fields, name, max, where);
  if (value === undefined) throw badRequest(`${where}${name} is required`, where + name);
  return value;
}

/** A required email field, normalized (lower case, trimmed). */
export function requiredEmail(fields: Fields, name = 'email', where = ''): string {
  const value = requiredString(fields, name, MAX_EMAIL_LENGTH, where);
  if (!isValidEmail(value)) throw badRequest(`${where}${name} must be one email address, like name@example.com`, where + name);
  return normalizeEmail(value);
}

/** An optional email field. */
export function optionalEmail(fields: Fields, name: string, where = ''): string | undefined {
  return fields[name] === undefined || fields[name] === '' ? undefined : requiredEmail(fields, name, where);
}

/** A required calendar date (YYYY-MM-DD) no later than `today`. */
export function requiredPastDate(fields: Fields, name: string, today: string, where = ''): string {
  const value = requiredString(fields, name, 10, where);
  if (!isFullDate(value)) throw badRequest(`${where}${name} must be a date as YYYY-MM-DD`, where + name);
  if (value > today) throw badRequest(`${where}${name} is in the future`, where + name);
  return value;
}

/** A secret the client echoes back (token, passcode, code): required, bounded, not trimmed of meaning. */
export function requiredSecret(fields: Fields, name: string, max = 128): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.trim() === '') throw badRequest(`${name} is required`, name);
  if (value.length > max) throw badRequest(`${name} is not valid`, name);
  return value.trim();
}

/**
 * A new password entered twice (the confirmation may be optional, but must match when given): both equal, and acceptable under the password policy (every
 * problem reported at once, as one 400 with an issue each).
 */
export function newPassword(
  fields: Fields,
  context: { email?: string },
  options: { confirmation: 'required' | 'optional' } = { confirmation: 'required' },
): string {
  const names = { password: 'password', confirmation: 'passwordConfirmation' };
  const password = fields[names.password];
  if (typeof password !== 'string' || password === '') throw badRequest(`${names.password} is required`, names.password);
  if (password.length > 1024) throw badRequest('password is too long', names.password);
  if (options.confirmation === 'required' || fields[names.confirmation] !== undefined) {
    const confirmation = fields[names.confirmation];
    if (typeof confirmation !== 'string' || confirmation === '') {
      throw badRequest(`${names.confirmation} is required: enter the new password twice`, names.confirmation);
    }
    if (confirmation !== password) throw badRequest('The two passwords do not match', names.confirmation);
  }
  const problems = checkPasswordPolicy(password, context);
  if (problems.length) {
    throw invalidResource(
      problems.map((p) => ({ severity: 'error', code: 'invalid', details: { text: p.message }, expression: [names.password] })),
    );
  }
  return password;
}

/** The level of a family grant, one of `offered` (the age policy's levels; by default full or billing); `fallback` when absent. */
export function grantLevelField(
  fields: Fields,
  name = 'level',
  fallback?: GrantLevel,
  offered: readonly GrantLevel[] = ['full', 'billing'],
): GrantLevel {
  const value = fields[name] ?? fallback;
  const choices = offered.join(' or ');
  if (typeof value === 'string' && (offered as readonly string[]).includes(value)) return value as GrantLevel;
  if (value === undefined) throw badRequest(`${name} is required: ${choices}`, name);
  throw badRequest(`${name} must be ${choices} (the levels this practice's policy offers)`, name);
}

/** Relationship codes (v3 RoleCode) a family member may state, with their display. */
export const RELATIONSHIP_CODES: Readonly<Record<string, string>> = Object.freeze({
  MTH: 'mother',
  FTH: 'father',
  PRN: 'parent',
  GUARD: 'guardian',
  STPPRN: 'step parent',
  SPS: 'spouse',
  DOMPART: 'domestic partner',
  CHILD: 'child',
  SIB: 'sibling',
  GRPRN: 'grandparent',
  EXT: 'extended family member',
  FAMMEMB: 'family member',
  FRND: 'friend',
  POWATT: 'power of attorney',
  HPOWATT: 'healthcare power of attorney',
});

/** A relationship code from RELATIONSHIP_CODES (upper-cased); `fallback` when absent. */
export function relationshipField(fields: Fields, name = 'relationship', fallback = 'FAMMEMB', where = ''): string {
  const raw = optionalString(fields, name, 16, where);
  const code = (raw ?? fallback).toUpperCase();
  if (!Object.hasOwn(RELATIONSHIP_CODES, code)) {
    throw badRequest(`${where}${name} must be one of ${Object.keys(RELATIONSHIP_CODES).join(', ')} (HL7 v3 RoleCode)`, where + name);
  }
  return code;
}

/** An optional security question with its answer: both or neither. */
export function securityOptionFields(fields: Fields): { question: string; answer: string } | undefined {
  const question = optionalString(fields, 'securityQuestion', 200);
  const answer = optionalString(fields, 'securityAnswer', 200);
  if (!question && !answer) return undefined;
  if (!question || !answer)
    throw badRequest('Give both securityQuestion and securityAnswer, or neither', question ? 'securityAnswer' : 'securityQuestion');
  if ([...normalizeSecurityAnswer(answer)].length < 3) throw badRequest('The security answer is too short', 'securityAnswer');
  return { question, answer };
}

/** How a security answer is hashed and compared: case, spacing and accents do not matter. */
export function normalizeSecurityAnswer(answer: string): string {
  return answer.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}
