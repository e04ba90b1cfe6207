import type { AccessScope } from '../access/access-scope';

/** Who is calling, as established by authentication, and what they may see. */
export interface Caller {
  /** staff: practice staff; user: a portal account (patient or family member); system: jobs and CLI. */
  readonly kind: 'staff' | 'user' | 'system';
  /** The acting FHIR resource or account, e.g. "Practitioner/123" or "Account:uuid". */
  readonly subject: string;
  /** The FHIR reference to the person acting, for audit events (Practitioner/…, Patient/…, RelatedPerson/…). */
  readonly actor?: string;
  readonly scope: AccessScope;
}

/** Turns a bearer token into a Caller; throws a 401 FhirError when the token does not verify. */
export interface Authenticator {
  authenticate(bearerToken: string): Promise<Caller>;
}
