import type { RawBuilder, SqlBool } from 'kysely';
import type { AccessScope } from './access-scope';

/** Who is calling, as established by authentication, and what they may see. */
export interface Caller {
  /** staff: practice staff; user: a portal account (patient or family member); system: jobs and CLI. */
  readonly kind: 'staff' | 'user' | 'system';
  /** The acting FHIR resource or account, e.g. "Practitioner/123" or "Account:uuid". */
  readonly subject: string;
  /** The FHIR reference to the person acting, for audit events (Practitioner/…, Patient/…, RelatedPerson/…). */
  readonly actor?: string;
  readonly scope: AccessScope;
  /** Set when the caller is a SMART app acting with a token of the /oauth server: the app's client id. */
  readonly smartClientId?: string;
  /**
   * Set when the caller was taken on trust from what its account (and, for a portal account, what its access was
   * computed from) looked like on its previous request, to spare a read-by-id or a search the round trips of its own:
   * nothing may be served to it until `condition` (true while all of that still is as it was) has held in the same
   * statement that reads. Only Repository.readStored and Repository's searches run it; every other repository call
   * refuses such a caller.
   */
  readonly unconfirmed?: Unconfirmed;
  /**
   * Set for a portal account that has not completed the current version of the practice's portal consent form: its
   * scope shows no record, and every request but the form and its answer is refused (src/http/consent-gate.ts).
   */
  readonly consentRequired?: ConsentRequired;
}

/** The portal consent form a caller still has to complete. */
export interface ConsentRequired {
  /** The Questionnaire's id (GET /fhir/Questionnaire/{id} serves it). */
  readonly formId: string;
  readonly url: string;
  readonly version: string;
}

/** What confirms a caller taken on trust (see Caller.unconfirmed). */
export interface Unconfirmed {
  readonly condition: RawBuilder<SqlBool>;
  /** The same condition as one whose text is the same on each of the caller's requests (TimedCondition). */
  readonly timed?: TimedCondition;
  /** Resolves the caller afresh from the database; throws the 401 when the account or session no longer may act. */
  confirm(): Promise<Caller>;
}

/**
 * A condition whose text is the same on every request of one caller, the time being its one value that changes from
 * request to request: a statement that holds it at a slot for the time is compiled once for all of them
 * (src/fhir/search/statement-cache.ts).
 */
export interface TimedCondition {
  /** Names the condition's text and every value in it but the time: equal keys, equal conditions at equal times. */
  readonly key: string;
  /** The time of this request, which `condition` is at. */
  readonly now: Date;
  /** The condition at `now` (a Date, or the slot a compiled statement binds it to). */
  at(now: unknown): RawBuilder<SqlBool>;
}

/** How a request may be authenticated. */
export interface AuthenticateOptions {
  /** The request is a read-by-id or a search, which may take its caller on trust (see Caller.unconfirmed). */
  readonly confirmedInStatement?: boolean;
}

/** Turns a bearer token into a Caller; throws a 401 FhirError when the token does not verify. */
export interface Authenticator {
  authenticate(bearerToken: string, options?: AuthenticateOptions): Promise<Caller>;
}

/** The account a Caller signed in with, as the audit trail names it. */
export interface CallerAccount {
  readonly id: string;
  readonly kind: 'patient' | 'family' | 'staff';
  readonly patient_id: string | null;
  readonly practitioner_id?: string | null;
  readonly display_name: string;
}

/** True when the caller signed in with an account (rather than an operator or system token). */
export function isAccountCaller(caller: Caller): caller is Caller & { readonly account: CallerAccount } {
  return (caller as { account?: CallerAccount }).account !== undefined;
}
