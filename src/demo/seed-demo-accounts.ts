/**
 * The demo family's logins: Ada, Cara and Dan (portal) and Dr. Maya Chen (staff), all with the demo password,
 * and the family access grants the demo intends (DEMO_ACCESS_GRANTS): Ada full to Ben (9) and billing to Cara
 * (15; under westchester, appointments and bill pay, the level that policy offers) as their mother, Dan full to Ada by Ada's invitation. Grants reuse the RelatedPersons already in the
 * bundle ("Ada, mother of Ben"), so the record reads the same before and after.
 */
import type { Patient, Practitioner, RelatedPerson } from '@medplum/fhirtypes';
import { DEMO_ACCESS_GRANTS, DEMO_MRN_SYSTEM, DEMO_PASSWORD, DEMO_PEOPLE, type DemoPersonKey } from '../../fixtures/demo-family';
import { grantAccess } from '../fhir/proxy-grant-store';
import { type Account, AccountStore } from '../auth/account-store';
import { hashPassword, type ScryptParams } from '../auth/password-hash';
import type { Repository } from '../fhir/repository';
import { type AgePolicy, grantInWords, offeredLevel, WESTMED_POLICY } from '../access/age-policy-profiles';

const NPI_SYSTEM = 'http://hl7.org/fhir/sid/us-npi';
const LOGIN_KEYS = ['ada', 'cara', 'dan', 'mayaChen'] as const satisfies readonly DemoPersonKey[];

/** A demo login as `npm start` prints it. */
export interface DemoLogin {
  readonly name: string;
  readonly email: string;
  readonly role: string;
}

/** The demo logins and what each can see (under the default policy; see demoLogins). */
export const DEMO_LOGINS: readonly DemoLogin[] = Object.freeze([
  { name: 'Ada Park', email: DEMO_PEOPLE.ada.email as string, role: 'patient; full access to Ben (9), billing to Cara (15)' },
  { name: 'Cara Park', email: DEMO_PEOPLE.cara.email as string, role: 'patient (15)' },
  { name: 'Dan Reyes', email: DEMO_PEOPLE.dan.email as string, role: 'family member; full access to Ada (her invitation)' },
  { name: 'Dr. Maya Chen', email: DEMO_PEOPLE.mayaChen.email as string, role: 'staff, Westside Family Medicine' },
]);

/** The demo logins, each guardian grant described at the level `policy` gives it, in the policy's words. */
export function demoLogins(policy: AgePolicy = WESTMED_POLICY): readonly DemoLogin[] {
  const ages: Record<string, string> = { ben: 'Ben (9)', cara: 'Cara (15)' };
  const adaGrants = DEMO_ACCESS_GRANTS.filter((g) => g.grantee === 'ada').map((g) =>
    grantInWords(offeredLevel(g.level, policy), ages[g.patient], policy),
  );
  return DEMO_LOGINS.map((l) => (l.email === DEMO_PEOPLE.ada.email ? { ...l, role: `patient; ${adaGrants.join(', ')}` } : l));
}

/** The banner lines listing the demo logins (with the grants as `policy` words them). */
export function demoLoginLines(policy: AgePolicy = WESTMED_POLICY): string[] {
  const logins = demoLogins(policy);
  const width = Math.max(...logins.map((l) => l.email.length));
  return [
    `  Demo logins (password ${DEMO_PASSWORD}; POST /auth/login):`,
    ...logins.map((l) => `    ${l.email.padEnd(width)}  ${l.name} — ${l.role}`),
  ];
}

/** True when the demo logins exist in this database. */
export async function demoLoginsExist(repo: Repository): Promise<boolean> {
  return (await new AccountStore(repo.db, repo.context.clock).findByEmail(DEMO_PEOPLE.ada.email as string)) !== undefined;
}

/**
 * Creates the demo accounts and grants, once, in one transaction; does nothing if Ada's login exists. `repo`
 * must see everything (the seeding repository).
 */
export async function seedDemoAccounts(
  repo: Repository,
  options: { passwordParams?: ScryptParams; policy?: AgePolicy } = {},
): Promise<Account[]> {
  if (await demoLoginsExist(repo)) return [];
  const passwordHash = await hashPassword(DEMO_PASSWORD, options.passwordParams);
  return repo.transaction(async (trx) => {
    const patients = {
      ada: await patientByMrn(trx, DEMO_PEOPLE.ada.mrn as string),
      ben: await patientByMrn(trx, DEMO_PEOPLE.ben.mrn as string),
      cara: await patientByMrn(trx, DEMO_PEOPLE.cara.mrn as string),
    };
    const maya = await practitionerByNpi(trx, DEMO_PEOPLE.mayaChen.npi as string);
    const organizationId = /^Organization\/(.+)$/.exec(patients.ada.managingOrganization?.reference ?? '')?.[1];
    const store = new AccountStore(trx.db, trx.context.clock);
    const accounts = {} as Record<(typeof LOGIN_KEYS)[number], Account>;
    for (const key of LOGIN_KEYS) {
      const person = DEMO_PEOPLE[key];
      const common = { email: person.email as string, displayName: person.displayName, passwordHash };
      accounts[key] =
        key === 'mayaChen'
          ? await store.create({ ...common, kind: 'staff', practitionerId: maya.id, organizationId })
          : key === 'dan'
            ? await store.create({ ...common, kind: 'family' })
            : await store.create({ ...common, kind: 'patient', patientId: patients[key].id });
    }
    for (const intended of DEMO_ACCESS_GRANTS) {
      const patient = patients[intended.patient];
      const account = accounts[intended.grantee];
      const relatedPerson = await relatedPersonNamed(trx, patient.id as string, DEMO_PEOPLE[intended.grantee].given);
      const grantedBy = intended.basis === 'guardian' ? 'guardian' : 'patient';
      await grantAccess(trx, {
        patientId: patient.id as string,
        accountId: account.id,
        grantee: {
          name: account.display_name,
          email: account.email,
          relationship: relatedPerson.relationship?.[0]?.coding?.[0]?.code ?? 'FAMMEMB',
        },
        // The level the practice's policy offers: Cara's "billing" is westchester's "appointments and bill pay".
        level: offeredLevel(intended.level, options.policy ?? WESTMED_POLICY),
        grantedBy,
        // A parent's grant is made by the parent (their RelatedPerson in the child's record); Dan's by Ada.
        performer: grantedBy === 'guardian' ? `RelatedPerson/${relatedPerson.id}` : `Patient/${patient.id}`,
        relatedPersonId: relatedPerson.id,
      });
    }
    return Object.values(accounts);
  });
}

async function patientByMrn(repo: Repository, mrn: string): Promise<Patient> {
  const [patient] = await repo.searchResources<Patient>('Patient', { identifier: `${DEMO_MRN_SYSTEM}|${mrn}` });
  if (!patient?.id) throw new Error(`Demo patient ${mrn} is not in the database`);
  return patient;
}

async function practitionerByNpi(repo: Repository, npi: string): Promise<Practitioner> {
  const [practitioner] = await repo.searchResources<Practitioner>('Practitioner', { identifier: `${NPI_SYSTEM}|${npi}` });
  if (!practitioner?.id) throw new Error(`Demo practitioner ${npi} is not in the database`);
  return practitioner;
}

async function relatedPersonNamed(repo: Repository, patientId: string, given: string): Promise<RelatedPerson> {
  const people = await repo.searchResources<RelatedPerson>('RelatedPerson', { patient: `Patient/${patientId}` });
  const match = people.find((rp) => rp.name?.some((n) => n.given?.includes(given)));
  if (!match?.id) throw new Error(`Demo RelatedPerson ${given} of Patient/${patientId} is not in the database`);
  return match;
}
