/**
 * The security question's answer, stored like a password (scrypt) after normalization, so "Rover", " rover "
 * and "RÖVER" are one answer and a copy of the database does not reveal it.
 */
import { normalizeSecurityAnswer } from './account-input';
import { hashPassword, type ScryptParams, verifyPassword } from './password-hash';

/** The stored hash of a security answer. */
export function securityAnswerHash(answer: string, params: ScryptParams): Promise<string> {
  return hashPassword(normalizeSecurityAnswer(answer), params);
}

/** True when `answer` is the one whose hash is stored. */
export function securityAnswerMatches(answer: string, storedHash: string): Promise<boolean> {
  return verifyPassword(normalizeSecurityAnswer(answer), storedHash);
}
