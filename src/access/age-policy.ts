/**
 * The age rules of family access, as pure functions of dates. Age is computed from `Patient.birthDate` and
 * today's date in the organization's time zone at request time; nothing is snapshotted, so a 13th or 18th
 * birthday changes access at local midnight without a job.
 */
import { type AccessLevel, type GrantLevel, minLevel } from './access-level';
import { type AgePolicy, WESTMED_POLICY } from './age-policy-profiles';
import { addDays, fhirDateBounds, formatDate, isFullDate, isLeapYear, parseDate } from './calendar-date';

export { todayIn } from './calendar-date';

/** Where a patient stands under a policy: below `teenFrom`, below `adultFrom`, or adult. */
export type AgeBand = 'child' | 'teen' | 'adult';

/**
 * On whose authority a grant was made: the patient's own consent (invitation, or a passcode the patient
 * received and passed on), a parent's or guardian's, or a legal authorization (personal representative)
 * that staff recorded.
 */
export type GrantedBy = 'patient' | 'guardian' | 'staff-legal-authorization';

/** The grantee's relation to the patient: a parent or legal guardian, or anyone else (caregiver, spouse...). */
export type FamilyRelationship = 'guardian' | 'other';

/** A family access grant as the age rules need it (a `Consent` + `RelatedPerson` in storage). */
export interface ProxyGrant {
  readonly level: GrantLevel;
  readonly grantedBy: GrantedBy;
  /** The local calendar date the grant was made (YYYY-MM-DD). */
  readonly grantedOn: string;
}

/** Everything `effectiveAccessLevel` decides on. */
export interface GrantContext {
  /** `Patient.birthDate` as stored: YYYY-MM-DD, or a partial YYYY / YYYY-MM, or absent. */
  readonly birthDate: string | undefined;
  /** Today in the organization's time zone (see `todayIn`). */
  readonly today: string;
  readonly grant: ProxyGrant;
  readonly relationship: FamilyRelationship;
}

/** The date of the next band change, for the week-ahead notice. */
export interface AccessChange {
  /** The birthday on which access changes (YYYY-MM-DD). */
  readonly date: string;
  /** The age reached that day. */
  readonly age: number;
  readonly fromBand: AgeBand;
  readonly toBand: AgeBand;
}

/**
 * Whole years of age on `today`. Someone born on February 29 turns a year older on March 1 in common years
 * (the reading used by most US state law for majority), and on February 29 in leap years.
 */
export function ageOn(birthDate: string, today: string): number {
  const b = parseDate(birthDate);
  const t = parseDate(today);
  if (today < birthDate) {
    throw new RangeError(`ageOn: ${today} is before the birth date ${birthDate}`);
  }
  const beforeBirthday = t.month < b.month || (t.month === b.month && t.day < b.day);
  return t.year - b.year - (beforeBirthday ? 1 : 0);
}

/** The band a patient born on `birthDate` is in on `today` under `policy`. */
export function ageBandOn(birthDate: string, today: string, policy: AgePolicy = WESTMED_POLICY): AgeBand {
  return bandForAge(ageOn(birthDate, today), policy);
}

function bandForAge(age: number, policy: AgePolicy): AgeBand {
  if (age < policy.teenFrom) {
    return 'child';
  }
  return age < policy.adultFrom ? 'teen' : 'adult';
}

/** The date on which someone born on `birthDate` reaches `age` (Feb 29 births: Mar 1 in common years). */
export function birthdayOf(birthDate: string, age: number): string {
  const b = parseDate(birthDate);
  const year = b.year + age;
  if (b.month === 2 && b.day === 29 && !isLeapYear(year)) {
    return formatDate({ year, month: 3, day: 1 });
  }
  return formatDate({ year, month: b.month, day: b.day });
}

/**
 * Every birth date that reaches `age` exactly on `date`, for a job that looks patients up by birth date:
 * usually one, two on March 1 of a common year (that day and February 29 births), none for February 29
 * of a common birth year.
 */
export function birthDatesReachingAgeOn(date: string, age: number): string[] {
  const d = parseDate(date);
  const year = d.year - age;
  const out: string[] = [];
  if (d.month === 2 && d.day === 29 && !isLeapYear(year)) {
    return out;
  }
  out.push(formatDate({ year, month: d.month, day: d.day }));
  if (d.month === 3 && d.day === 1 && !isLeapYear(d.year) && isLeapYear(year)) {
    out.unshift(formatDate({ year, month: 2, day: 29 }));
  }
  return out;
}

/**
 * The most a grant of this kind may give a patient born on `birthDate` (a full date). A grant never gives
 * more than the policy allowed on the day it was made, nor more than the policy allows today.
 */
function grantCeiling(
  birthDate: string,
  today: string,
  grant: ProxyGrant,
  relationship: FamilyRelationship,
  policy: AgePolicy,
): AccessLevel {
  if (grant.grantedOn > today || grant.grantedOn < birthDate) {
    return 'none';
  }
  const ageAtGrant = ageOn(birthDate, grant.grantedOn);
  const bandToday = ageBandOn(birthDate, today, policy);
  switch (grant.grantedBy) {
    case 'patient':
      // A child cannot consent (and cannot hold an account to consent from).
      if (ageAtGrant < policy.minOwnAccountAge) {
        return 'none';
      }
      return ageAtGrant < policy.adultFrom ? policy.teenOwnGrantLevel : 'full';
    case 'staff-legal-authorization':
      // A personal representative of an adult stands in for the adult. One recorded for a minor is the
      // guardian's standing, and ends with childhood like any guardian grant.
      if (ageAtGrant >= policy.adultFrom) {
        return 'full';
      }
      return guardianCeiling(bandToday, 'guardian', policy);
    case 'guardian':
      if (ageAtGrant >= policy.adultFrom) {
        return 'none';
      }
      return guardianCeiling(bandToday, relationship, policy);
    default:
      // An unknown kind from storage gives nothing: fail closed.
      return 'none';
  }
}

function guardianCeiling(bandToday: AgeBand, relationship: FamilyRelationship, policy: AgePolicy): AccessLevel {
  switch (bandToday) {
    case 'child':
      return 'full';
    case 'teen':
      // From the teen band on, the teen decides who else sees their record: a guardian keeps the teen
      // level for themselves, but a guardian's grant to someone else (a caregiver) lapses.
      return relationship === 'guardian' ? policy.teenGuardianLevel : 'none';
    case 'adult':
      return 'none';
  }
}

/**
 * The level a family member's grant gives today. A partial birth date (YYYY or YYYY-MM) gets the lowest
 * level any birthday it allows would give; an absent or malformed one is treated as unknown age: the
 * patient's own grants and adult legal authorizations stand, guardian grants give nothing.
 */
export function effectiveAccessLevel(context: GrantContext, policy: AgePolicy = WESTMED_POLICY): AccessLevel {
  const { today, grant, relationship } = context;
  parseDate(today);
  if (!isFullDate(grant.grantedOn) || (grant.level !== 'full' && grant.level !== 'billing' && grant.level !== 'billing+appointments')) {
    return 'none';
  }
  const bounds = context.birthDate === undefined ? undefined : fhirDateBounds(context.birthDate);
  if (!bounds) {
    return grant.grantedBy === 'patient' || grant.grantedBy === 'staff-legal-authorization' ? grant.level : 'none';
  }
  if (bounds.earliest > today) {
    return 'none';
  }
  let level: AccessLevel = grant.level;
  for (const birth of breakpointBirthDates(
    bounds.earliest,
    bounds.latest < today ? bounds.latest : today,
    today,
    grant.grantedOn,
    policy,
  )) {
    level = minLevel(level, grantCeiling(birth, today, grant, relationship, policy));
  }
  return level;
}

/** The latest birth date that has reached `age` on `date`. */
function lastBirthDateAged(date: string, age: number): string {
  const d = parseDate(date);
  const year = d.year - age;
  if (d.month === 2 && d.day === 29 && !isLeapYear(year)) {
    return formatDate({ year, month: 2, day: 28 });
  }
  return formatDate({ year, month: d.month, day: d.day });
}

/**
 * One birth date from each stretch of [first, last] on which the grant's ceiling cannot change. The ceiling
 * depends on the birth date only through the ages on `today` and on `grantedOn` (compared with the policy's
 * ages) and through whether the grant predates the birth; each of those flips between one day and the next,
 * so the stretches start at `first` or the day after a flip. Judging these few dates equals judging every day.
 */
function breakpointBirthDates(first: string, last: string, today: string, grantedOn: string, policy: AgePolicy): string[] {
  const starts = new Set([first, addDays(grantedOn, 1)]);
  for (const date of [today, grantedOn]) {
    for (const age of [policy.minOwnAccountAge, policy.teenFrom, policy.adultFrom]) {
      starts.add(addDays(lastBirthDateAged(date, age), 1));
    }
  }
  return [...starts].filter((birth) => birth >= first && birth <= last);
}

/**
 * True when a patient born on `birthDate` may register, be enrolled or be invited as a portal user today
 * (COPPA: not under `policy.minOwnAccountAge`). A partial birth date counts from its latest possible day;
 * an absent one is refused, since the age cannot be checked.
 */
export function canHaveOwnAccount(birthDate: string | undefined, today: string, policy: AgePolicy = WESTMED_POLICY): boolean {
  parseDate(today);
  const age = youngestAgeOn(birthDate, today);
  return age !== undefined && age >= policy.minOwnAccountAge;
}

/** True when a patient born on `birthDate` (a FHIR date, possibly partial) is an adult on `today` whatever the exact day. */
export function knownAdultOn(birthDate: string | undefined, today: string, policy: AgePolicy = WESTMED_POLICY): boolean {
  const age = youngestAgeOn(birthDate, today);
  return age !== undefined && age >= policy.adultFrom;
}

/**
 * True when a patient born on `birthDate` (a FHIR date, possibly partial) is in the policy's child band on `today`
 * whatever the exact day: the age at which they cannot hold an account and a guardian holds their record in full.
 */
export function knownChildOn(birthDate: string | undefined, today: string, policy: AgePolicy = WESTMED_POLICY): boolean {
  const bounds = birthDate === undefined ? undefined : fhirDateBounds(birthDate);
  return bounds !== undefined && bounds.latest <= today && ageOn(bounds.earliest, today) < policy.teenFrom;
}

/**
 * The youngest age a patient born on `birthDate` can be on `today` (a partial date counts from its latest possible
 * day); undefined when the birth date is absent or may be after today, so the age cannot be known.
 */
function youngestAgeOn(birthDate: string | undefined, today: string): number | undefined {
  const bounds = birthDate === undefined ? undefined : fhirDateBounds(birthDate);
  return bounds && bounds.latest <= today ? ageOn(bounds.latest, today) : undefined;
}

/**
 * On whose authority a family access passcode was given, for the grant it creates. Handing over the passcode
 * is the patient's consent only if the patient could consent that day and the passcode reached the patient
 * themself (the email of their own portal account). A minor's record often carries a parent's email: a code
 * sent there was passed on by the guardian, so the grant is a guardian grant and ages out like one. An adult's
 * passcode goes only to their own addresses (their login or the email on their record, never a contact's), so
 * it is theirs. Partial birth dates are read as youngest.
 */
export function passcodeConsentGrantedBy(
  birthDate: string | undefined,
  grantedOn: string,
  sentToPatientsOwnAccount: boolean,
  policy: AgePolicy = WESTMED_POLICY,
): GrantedBy {
  parseDate(grantedOn);
  const age = youngestAgeOn(birthDate, grantedOn);
  if (age === undefined) {
    return sentToPatientsOwnAccount ? 'patient' : 'guardian';
  }
  if (age >= policy.adultFrom) {
    return 'patient';
  }
  return age >= policy.minOwnAccountAge && sentToPatientsOwnAccount ? 'patient' : 'guardian';
}

/** The message shown when `canHaveOwnAccount` refuses. */
export function ownAccountRefusalMessage(policy: AgePolicy = WESTMED_POLICY): string {
  return (
    `To comply with the Children’s Online Privacy Protection Act (COPPA), patients under the age of ` +
    `${policy.minOwnAccountAge} cannot create their own portal accounts, and no one can register or invite a ` +
    `portal user under the age of ${policy.minOwnAccountAge}. A parent or guardian can request family access instead.`
  );
}

/**
 * The next birthday after `today` on which the patient's band changes (teen or adult), or undefined for an
 * adult or an unknown birth date. A partial birth date answers with its earliest possible change.
 */
export function nextAccessChange(
  birthDate: string | undefined,
  today: string,
  policy: AgePolicy = WESTMED_POLICY,
): AccessChange | undefined {
  parseDate(today);
  const bounds = birthDate === undefined ? undefined : fhirDateBounds(birthDate);
  if (!bounds) {
    return undefined;
  }
  const birth = bounds.earliest;
  for (const age of [policy.teenFrom, policy.adultFrom]) {
    const date = birthdayOf(birth, age);
    if (date > today) {
      return { date, age, fromBand: bandForAge(age - 1, policy), toBand: bandForAge(age, policy) };
    }
  }
  return undefined;
}

/**
 * The birth dates whose band changes on `date`, by the age reached: what the week-ahead notice job looks up
 * (with `date` = today + 7).
 */
export function bandChangesOn(date: string, policy: AgePolicy = WESTMED_POLICY): { age: number; toBand: AgeBand; birthDates: string[] }[] {
  return [policy.teenFrom, policy.adultFrom].map((age) => ({
    age,
    toBand: bandForAge(age, policy),
    birthDates: birthDatesReachingAgeOn(date, age),
  }));
}
