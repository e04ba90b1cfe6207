/**
 * "A new document is available": when a provider releases a document (DocumentReference from unreleased to
 * released; the repository queues a release_notice row in the same transaction), this job emails everyone who can
 * now read it: the patient's own portal account, and each family member whose access to the record is full today
 * (the same rules as their requests: a billing-only parent of a teen is not told that a clinical document exists).
 * One email per person per patient per run, naming no document. Runs every minute; a document taken back or
 * deleted before then is not announced. A notice that cannot be sent is logged and not retried, as the other jobs do.
 */
import type { DocumentReference, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../access/access-scope';
import { patientAccessOf } from '../access/caller-scope';
import { ACCOUNT_IDENTIFIER_SYSTEM, grantsOfPatient } from '../access/proxy-grants';
import { unreleasedVersion } from '../access/release-visibility';
import { organizationNameOf, patientFirstName } from '../auth/account-context';
import { type Account, AccountStore } from '../auth/account-store';
import { Repository } from '../fhir/repository';
import { documentReleasedEmail } from '../mail/templates/document-released-email';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** Notices taken per run; the rest wait for the next minute. */
const BATCH = 500;

/** One email sent. */
export interface SentReleaseNotice {
  readonly patientId: string;
  readonly to: string;
  readonly audience: 'patient' | 'family-member';
  readonly documents: number;
}

/** Sends the pending notices; undefined when another instance is running the job. */
export async function releaseNoticeJob(deps: JobDeps): Promise<SentReleaseNotice[] | undefined> {
  const run = await runUnderAdvisoryLock(deps.db, 'release-notice', async (trx) => {
    const pending = await trx.selectFrom('release_notice').selectAll().orderBy('seq').limit(BATCH).execute();
    if (!pending.length) return [];
    const repo = new Repository(trx, { scope: unrestrictedScope('release-notice job'), clock: deps.clock, fhirBase: `${deps.baseUrl}/fhir` });
    const accounts = new AccountStore(trx, deps.clock);
    const sent: SentReleaseNotice[] = [];
    const byPatient = new Map<string, typeof pending>();
    for (const row of pending) byPatient.set(row.patient_id, [...(byPatient.get(row.patient_id) ?? []), row]);
    for (const [patientId, rows] of byPatient) {
      const released = await stillReleased(repo, [...new Set(rows.map((row) => row.resource_id))]);
      const patient = released ? await repo.read<Patient>('Patient', patientId).catch(() => undefined) : undefined;
      if (patient && released) {
        for (const recipient of await readersOf(deps, repo, accounts, patientId)) {
          const email = documentReleasedEmail({
            organizationName: organizationNameOf(patient),
            patientFirstName: patientFirstName(patient),
            documentsUrl: `${deps.baseUrl}/fhir/DocumentReference?patient=Patient/${patientId}`,
            audience: recipient.audience,
          });
          try {
            await deps.mailer.send({ to: recipient.email, subject: email.subject, text: email.text, html: email.html });
            sent.push({ patientId, to: recipient.email, audience: recipient.audience, documents: released });
          } catch (err) {
            deps.logger?.error({ err: { message: (err as Error)?.message }, patientId }, 'document release notice not sent');
          }
        }
      }
      await trx.deleteFrom('release_notice').where('seq', 'in', rows.map((row) => row.seq)).execute();
    }
    return sent;
  });
  return run.ran ? run.result : undefined;
}

/** How many of these documents are still there and released (0: nothing to announce). */
async function stillReleased(repo: Repository, ids: readonly string[]): Promise<number> {
  let count = 0;
  for (const id of ids) {
    const document = await repo.read<DocumentReference>('DocumentReference', id).catch(() => undefined);
    if (document && !unreleasedVersion(document) && document.status !== 'entered-in-error') count++;
  }
  return count;
}

/** Accounts that can read the patient's documents today, once per address: their own, and full-access family. */
async function readersOf(deps: JobDeps, repo: Repository, accounts: AccountStore, patientId: string): Promise<{ email: string; audience: 'patient' | 'family-member' }[]> {
  const out = new Map<string, 'patient' | 'family-member'>();
  const seesFully = async (account: Account | undefined): Promise<boolean> => {
    if (!account || account.disabled_at) return false;
    // Through the job's transaction: the embedded database has one connection, and the transaction holds it.
    const access = await patientAccessOf(repo.db, account, { clock: deps.clock, timeZone: deps.timeZone, policy: deps.policy });
    return access.some((a) => a.patientId === patientId && a.level === 'full');
  };
  const own = await accounts.findByPatientId(patientId);
  if (own && (await seesFully(own))) out.set(own.email, 'patient');
  for (const grant of await grantsOfPatient(repo, patientId)) {
    if (!grant.active) continue;
    const person = await repo.read<RelatedPerson>('RelatedPerson', grant.relatedPersonId).catch(() => undefined);
    const accountId = person?.identifier?.find((i) => i.system === ACCOUNT_IDENTIFIER_SYSTEM)?.value;
    const account = accountId ? await accounts.findById(accountId) : undefined;
    if (account && !out.has(account.email) && (await seesFully(account))) out.set(account.email, 'family-member');
  }
  return [...out].map(([email, audience]) => ({ email, audience }));
}
