/**
 * "A new document is available": when a provider releases a document (DocumentReference from unreleased to
 * released; the repository queues a release_notice row in the same transaction), this job emails everyone who can
 * now read it: the patient's own portal account, and each family member whose access to the record is full today
 * (the same rules as their requests: a billing-only parent of a teen is not told that a clinical document exists).
 * One email per person per patient per run, naming no document. Runs every minute; a document taken back, deleted
 * or moved to another record before then is not announced. A notice that cannot be sent is logged and not retried,
 * as the other jobs do.
 */
import type { DocumentReference, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../access/access-scope';
import { patientAccessOf } from '../auth/caller-scope';
import { accountIdOf } from '../access/proxy-grants';
import { grantsOfPatient } from '../fhir/proxy-grant-store';
import { unreleasedVersion } from '../access/release-visibility';
import { organizationNameOf, patientFirstName } from '../auth/account-context';
import { type Account, AccountStore } from '../auth/account-store';
import { Repository } from '../fhir/repository';
import { documentReleasedEmail } from '../mail/templates/document-released-email';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';
import { sendNotices } from './notice-mail';
import { portalLink } from '../auth/portal-links';

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
  // Who is told what is settled, and the notices taken, in one short transaction; the mail goes after it commits,
  // so no connection (the embedded database has one) waits on a mail server, and an error in one patient's
  // notices cannot put back the others' to be sent again.
  const run = await runUnderAdvisoryLock(deps.db, 'release-notice', async (trx) => {
    const pending = await trx.selectFrom('release_notice').selectAll().orderBy('seq').limit(BATCH).execute();
    const repo = new Repository(trx, {
      scope: unrestrictedScope('release-notice job'),
      clock: deps.clock,
      fhirBase: `${deps.baseUrl}/fhir`,
    });
    const accounts = new AccountStore(trx, deps.clock);
    const byPatient = new Map<string, typeof pending>();
    for (const row of pending) byPatient.set(row.patient_id, [...(byPatient.get(row.patient_id) ?? []), row]);
    const outgoing: (SentReleaseNotice & { email: ReturnType<typeof documentReleasedEmail> })[] = [];
    for (const [patientId, rows] of byPatient) {
      try {
        const released = await stillReleased(repo, patientId, [...new Set(rows.map((row) => row.resource_id))]);
        const patient = released ? await repo.read<Patient>('Patient', patientId).catch(() => undefined) : undefined;
        for (const recipient of patient ? await readersOf(deps, repo, accounts, patientId) : []) {
          const email = documentReleasedEmail({
            organizationName: organizationNameOf(patient),
            patientFirstName: patient ? patientFirstName(patient) : undefined,
            documentsUrl: portalLink(deps.portalUrl ?? deps.baseUrl, 'documents', { patient: patientId }),
            audience: recipient.audience,
          });
          outgoing.push({ patientId, to: recipient.email, audience: recipient.audience, documents: released, email });
        }
      } catch (err) {
        deps.logger?.error({ err: { message: (err as Error)?.message }, patientId }, 'document release notice not prepared');
      }
    }
    if (pending.length)
      await trx
        .deleteFrom('release_notice')
        .where(
          'seq',
          'in',
          pending.map((row) => row.seq),
        )
        .execute();
    return outgoing;
  });
  if (!run.ran) return undefined;
  return sendNotices(deps, run.result, 'document release notice');
}

/** How many of these documents are still there, released and in this patient's record (0: nothing to announce). */
async function stillReleased(repo: Repository, patientId: string, ids: readonly string[]): Promise<number> {
  let count = 0;
  for (const id of ids) {
    const document = await repo.read<DocumentReference>('DocumentReference', id).catch(() => undefined);
    const about = document?.subject?.reference === `Patient/${patientId}`;
    if (document && about && !unreleasedVersion(document) && document.status !== 'entered-in-error') count++;
  }
  return count;
}

/** Accounts that can read the patient's record today, once per address: their own, and full-access family. */
export async function readersOf(
  deps: JobDeps,
  repo: Repository,
  accounts: AccountStore,
  patientId: string,
): Promise<{ email: string; audience: 'patient' | 'family-member' }[]> {
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
    const accountId = accountIdOf(person);
    const account = accountId ? await accounts.findById(accountId) : undefined;
    if (account && !out.has(account.email) && (await seesFully(account))) out.set(account.email, 'family-member');
  }
  return [...out].map(([email, audience]) => ({ email, audience }));
}
