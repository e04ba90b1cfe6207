/**
 * The refusals people read when an account flow says no. Their words follow the Westmed guide's FAQ, so the
 * portal's answer and the practice's printed guide agree.
 */
import type { AgePolicy } from '../access/age-policy-profiles';
import { ownAccountRefusalMessage } from '../access/age-policy';
import { FhirError } from '../fhir/outcomes';

function outcome(status: number, code: 'duplicate' | 'forbidden' | 'conflict', text: string, expression?: string): FhirError {
  return new FhirError(status, {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) }],
  });
}

/** The FAQ's answer to "can two people share one email address?". */
export const SHARED_EMAIL_EXPLANATION =
  'Each person signs in with their own email address and password and sees only their own health information, ' +
  'so two people cannot share one login email. To use one email address for two people, choose one person as the ' +
  'account owner and add the other as a family member (Family access): the owner then sees both records. ' +
  'Otherwise, use a separate email address for each person.';

/** 409: this email already signs in to an account. */
export function emailAlreadyUsed(field = 'email'): FhirError {
  return outcome(409, 'duplicate', `This email address already belongs to a portal account. ${SHARED_EMAIL_EXPLANATION}`, field);
}

/** 403: COPPA. Nobody under the policy's minimum age registers, is enrolled or is invited as a portal user. */
export function underMinimumAge(policy: AgePolicy, field?: string): FhirError {
  return outcome(403, 'forbidden', ownAccountRefusalMessage(policy), field);
}

/** 409: the patient already has their own portal login. */
export function patientAlreadyRegistered(): FhirError {
  return outcome(
    409,
    'conflict',
    'This patient already has a portal account. Sign in, or use "Forgot password" to reset it. If you no longer ' +
      'have that email address, ask the practice to re-enroll you.',
  );
}
