/**
 * A week before a birthday that changes family access (the policy's teen and adult ages), tell the patient and
 * every family member with an active grant. Access itself changes at midnight with no job (age is computed per
 * request); this job only warns. Each day's notices are sent once, however many instances or restarts.
 */
import type { Patient, RelatedPerson } from '@medplum/fhirtypes';
import type { AccessLevel } from '../access/access-level';
import { bandChangesOn } from '../access/age-policy';
import { addDays, todayIn } from '../access/calendar-date';
import { unrestrictedScope } from '../access/access-scope';
import { accountIdOf } from '../access/proxy-grants';
import { grantsOfPatient } from '../fhir/proxy-grant-store';
import { organizationNameOf, patientFirstName } from '../auth/account-context';
import { patientEmailOnFile } from '../auth/account-patients';
import { AccountStore } from '../auth/account-store';
import { Repository } from '../fhir/repository';
import { accessChangeNoticeEmail } from '../mail/templates/access-change-notice-email';
import { claimJobRun, runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';
import { portalLink } from '../auth/portal-links';

/** Days between the notice and the birthday. */
export const NOTICE_DAYS_AHEAD = 7;

/** One notice sent. */
export interface SentNotice {
  readonly patientId: string;
  readonly to: string;
  readonly audience: 'patient' | 'family-member';
  readonly changeDate: string;
  readonly age: number;
}

/** What one run did: the birthday it looked at and the notices sent (undefined: another instance ran it). */
export interface AccessChangeNoticeResult {
  readonly changeDate: string;
  readonly alreadySent: boolean;
  readonly sent: readonly SentNotice[];
}

/** Sends the week-ahead notices for birthdays on today + 7 (organization's calendar). */
export async function accessChangeNoticeJob(deps: JobDeps): Promise<AccessChangeNoticeResult | undefined> {
  const today = todayIn(deps.timeZone, deps.clock.now());
  const changeDate = addDays(today, NOTICE_DAYS_AHEAD);
  const run = await runUnderAdvisoryLock(deps.db, 'access-change-notice', async (trx) => {
    if (!(await claimJobRun(trx, 'access-change-notice', changeDate, deps.clock.now()))) {
      return { changeDate, alreadySent: true, sent: [] };
    }
    const repo = new Repository(trx, {
      scope: unrestrictedScope('access-change-notice job'),
      clock: deps.clock,
      fhirBase: `${deps.baseUrl}/fhir`,
    });
    const sent: SentNotice[] = [];
    for (const change of bandChangesOn(changeDate, deps.policy)) {
      const newGuardianLevel: AccessLevel = change.toBand === 'adult' ? 'none' : deps.policy.teenGuardianLevel;
      for (const birthDate of change.birthDates) {
        const patients = await repo.searchResources<Patient>('Patient', { birthdate: birthDate });
        for (const patient of patients.filter((p) => p.birthDate === birthDate && p.active !== false)) {
          for (const recipient of await recipientsOf(new AccountStore(trx, deps.clock), repo, patient)) {
            const email = accessChangeNoticeEmail({
              organizationName: organizationNameOf(patient),
              audience: recipient.audience,
              patientFirstName: patientFirstName(patient) ?? 'the patient',
              changeDate,
              newGuardianLevel,
              familyAccessUrl: portalLink(deps.portalUrl ?? deps.baseUrl, 'familyAccess', { patient: patient.id as string }),
            });
            try {
              await deps.mailer.send({ to: recipient.email, subject: email.subject, text: email.text, html: email.html });
              sent.push({
                patientId: patient.id as string,
                to: recipient.email,
                audience: recipient.audience,
                changeDate,
                age: change.age,
              });
            } catch (err) {
              deps.logger?.error({ err: { message: (err as Error)?.message }, patientId: patient.id }, 'access change notice not sent');
            }
          }
        }
      }
    }
    return { changeDate, alreadySent: false, sent };
  });
  return run.ran ? run.result : undefined;
}

/** The patient (own login, else email on record) and each family member with an active grant, once per address. */
async function recipientsOf(
  accounts: AccountStore,
  repo: Repository,
  patient: Patient,
): Promise<{ email: string; audience: 'patient' | 'family-member' }[]> {
  const out = new Map<string, 'patient' | 'family-member'>();
  const own = await accounts.findByPatientId(patient.id as string);
  const patientEmail = own && !own.disabled_at ? own.email : patientEmailOnFile(patient);
  if (patientEmail) out.set(patientEmail, 'patient');
  for (const grant of await grantsOfPatient(repo, patient.id as string)) {
    if (!grant.active) continue;
    const rp = await repo.read<RelatedPerson>('RelatedPerson', grant.relatedPersonId).catch(() => undefined);
    const accountId = accountIdOf(rp);
    const account = accountId ? await accounts.findById(accountId) : undefined;
    const email = account && !account.disabled_at ? account.email : rp?.telecom?.find((t) => t.system === 'email')?.value?.toLowerCase();
    if (email && !out.has(email)) out.set(email, 'family-member');
  }
  return [...out].map(([email, audience]) => ({ email, audience }));
}
