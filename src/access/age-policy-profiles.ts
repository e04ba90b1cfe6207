/**
 * The age policies Chartkeeper ships. The two source guides disagree (13 vs 12, billing vs appointments and
 * billing), so the numbers live here as data and `age-policy.ts` holds the one set of rules that reads them.
 */
import type { AccessLevel, GrantLevel } from './access-level';

/** Names of the shipped policies (configuration value `AGE_POLICY`). */
export type AgePolicyName = 'westmed' | 'westchester';

/** One organization's age-based access policy. All ages are whole years reached on the birthday. */
export interface AgePolicy {
  readonly name: AgePolicyName;
  /** Youngest age that may hold an own portal account or be invited as a user (COPPA). */
  readonly minOwnAccountAge: number;
  /** First age of the teen band; below it guardians have full access. */
  readonly teenFrom: number;
  /** First adult age; from it only the adult's own grant or a legal authorization counts. */
  readonly adultFrom: number;
  /** Most a guardian's grant gives during the teen band. */
  readonly teenGuardianLevel: AccessLevel;
  /** Most a teen's own grant gives (then and later: a grant never outgrows the policy of its day). */
  readonly teenOwnGrantLevel: AccessLevel;
  /** One sentence for people: what the policy says. */
  readonly summary: string;
  /** The levels an invitation, a request or a level change may grant, most access first. */
  readonly grantLevels: readonly GrantLevel[];
  /** How the policy says a grant at each level it offers, for people (banners): `{name}` is the patient. */
  readonly levelWords: Readonly<Partial<Record<GrantLevel, string>>>;
  /** Whether every portal account completes the practice's portal consent form before it uses the portal. */
  readonly portalConsentRequired: boolean;
}

/** Default, after the Westmed guide: under 13 guardians full; 13-17 billing unless the teen grants full. */
export const WESTMED_POLICY: AgePolicy = Object.freeze({
  name: 'westmed',
  minOwnAccountAge: 13,
  teenFrom: 13,
  adultFrom: 18,
  teenGuardianLevel: 'billing',
  teenOwnGrantLevel: 'full',
  summary:
    'Under 13: parents and guardians have full access and the child cannot have an account. ' +
    '13 to 17: family members see billing only unless the teen grants full access. ' +
    '18 and over: only the patient’s own grant or a legal authorization on file.',
  grantLevels: ['full', 'billing'] as GrantLevel[],
  levelWords: { full: 'full access to {name}', billing: 'billing to {name}' },
  portalConsentRequired: false,
});

/** After the Westchester Health FAQ: under 12 full; 12-17 appointments and bill pay only. */
export const WESTCHESTER_POLICY: AgePolicy = Object.freeze({
  name: 'westchester',
  minOwnAccountAge: 12,
  teenFrom: 12,
  adultFrom: 18,
  teenGuardianLevel: 'billing+appointments',
  teenOwnGrantLevel: 'billing+appointments',
  summary:
    'Under 12: the child’s personal representative has full access. ' +
    '12 to 17: family access is limited to appointments and bill pay. ' +
    '18 and over: only the patient’s own consent or a legal authorization on file.',
  // "the Westchester Health Patient Portal Consent Form which you must complete in order to access the portal"
  // "limited to appointments and on line bill pay only": the level a parent keeps in the teen band is one to offer.
  grantLevels: ['full', 'billing+appointments'] as GrantLevel[],
  levelWords: { full: 'full access to {name}', 'billing+appointments': 'appointments and bill pay for {name}' },
  portalConsentRequired: true,
});

/** The shipped policies by name. */
export const AGE_POLICIES: Readonly<Record<AgePolicyName, AgePolicy>> = Object.freeze({
  westmed: WESTMED_POLICY,
  westchester: WESTCHESTER_POLICY,
});

/** The policy for a configuration value; undefined or empty means the default (westmed). */
export function agePolicyByName(name: string | undefined): AgePolicy {
  if (name === undefined || name === '') {
    return WESTMED_POLICY;
  }
  // hasOwn, not a plain lookup: 'toString' must not find Object.prototype.toString.
  const policy = Object.hasOwn(AGE_POLICIES, name) ? AGE_POLICIES[name as AgePolicyName] : undefined;
  if (!policy) {
    throw new RangeError(`Unknown age policy ${JSON.stringify(name)}; expected one of: ${Object.keys(AGE_POLICIES).join(', ')}`);
  }
  return policy;
}

/**
 * The level the policy offers in place of `level`: the level itself when offered, else the policy's limited level (a
 * "billing" grant of the demo family under westchester is its "appointments and bill pay").
 */
export function offeredLevel(level: GrantLevel, policy: AgePolicy): GrantLevel {
  if (policy.grantLevels.includes(level)) return level;
  return policy.grantLevels.find((l) => l !== 'full') ?? level;
}

/** A grant at `level` to the record of `name` in the policy's words ("Cara’s appointments and bill pay"). */
export function grantInWords(level: GrantLevel, name: string, policy: AgePolicy): string {
  return (policy.levelWords[level] ?? `${level} access to {name}`).replace('{name}', name);
}
