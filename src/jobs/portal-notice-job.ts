/**
 * "Your request was answered" and "you have a new message": when the practice answers an appointment or renewal
 * request, or writes to a patient, the write queues a portal_notice row in its own transaction
 * (src/portal/requests/portal-notice-rules.ts), and this job emails everyone who can read the record today: the
 * patient's own account and each full-access family member (a billing-only parent is not told). One email per person,
 * patient and kind per run, naming nothing clinical. Runs every minute; a notice that cannot be sent is logged and not
 * retried, as the release notices are. It also sends the security notices of a replaced email (kind email-changed,
 * src/portal/requests/email-change-notice.ts) to the address replaced, once per address and change.
 */
import type { Patient } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../access/access-scope';
import { organizationNameOf, patientFirstName } from '../auth/account-context';
import { AccountStore } from '../auth/account-store';
import { Repository } from '../fhir/repository';
import { emailChangedEmail } from '../mail/templates/email-changed-email';
import { portalNoticeEmail } from '../mail/templates/portal-notice-email';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';
import { sendNotices } from './notice-mail';
import { readersOf } from './release-notice-job';

/** Notices taken per run; the rest wait for the next minute. */
const BATCH = 500;

/** One email sent. */
export interface SentPortalNotice {
  readonly patientId: string;
  readonly kind: 'request-answered' | 'new-message' | 'email-changed';
  readonly to: string;
  /** Readers of the record today, or (email-changed) the address the record or the account held before. */
  readonly audience: 'patient' | 'family-member' | 'former-address';
}

type Outgoing = SentPortalNotice & { email: ReturnType<typeof portalNoticeEmail> };

/** Sends the pending notices; undefined when another instance is running the job. */
export async function portalNoticeJob(deps: JobDeps): Promise<SentPortalNotice[] | undefined> {
  const run = await runUnderAdvisoryLock(deps.db, 'portal-notice', async (trx) => {
    const pending = await trx
      .selectFrom('portal_notice')
      .selectAll()
      .where('kind', 'in', ['request-answered', 'new-message', 'email-changed'])
      .orderBy('seq')
      .limit(BATCH)
      .execute();
    const repo = new Repository(trx, {
      scope: unrestrictedScope('portal-notice job'),
      clock: deps.clock,
      fhirBase: `${deps.baseUrl}/fhir`,
    });
    const accounts = new AccountStore(trx, deps.clock);
    const groups = new Map<string, { patientId: string; kind: 'request-answered' | 'new-message' }>();
    for (const row of pending)
      if (row.kind !== 'email-changed')
        groups.set(`${row.patient_id} ${row.kind}`, { patientId: row.patient_id, kind: row.kind as 'request-answered' | 'new-message' });
    const outgoing: Outgoing[] = await emailChangedNotices(
      deps,
      repo,
      pending.filter((row) => row.kind === 'email-changed'),
    );
    for (const { patientId, kind } of groups.values()) {
      try {
        const patient = await repo.read<Patient>('Patient', patientId).catch(() => undefined);
        if (!patient) continue;
        const path = kind === 'new-message' ? `Communication?subject=Patient/${patientId}` : `Appointment?actor=Patient/${patientId}`;
        for (const recipient of await readersOf(deps, repo, accounts, patientId)) {
          const email = portalNoticeEmail({
            kind,
            organizationName: organizationNameOf(patient),
            patientFirstName: patientFirstName(patient),
            url: `${deps.baseUrl}/fhir/${path}`,
            audience: recipient.audience,
          });
          outgoing.push({ patientId, kind, to: recipient.email, audience: recipient.audience, email });
        }
      } catch (err) {
        deps.logger?.error({ err: { message: (err as Error)?.message }, patientId }, 'portal notice not prepared');
      }
    }
    if (pending.length)
      await trx
        .deleteFrom('portal_notice')
        .where(
          'seq',
          'in',
          pending.map((row) => row.seq),
        )
        .execute();
    return outgoing;
  });
  if (!run.ran) return undefined;
  return sendNotices(deps, run.result, 'portal notice');
}

/** The security notices of replaced emails: one per row to its `address`, sent even when the record is gone. */
async function emailChangedNotices(
  deps: JobDeps,
  repo: Repository,
  rows: readonly { patient_id: string; resource_type: string; address: string | null; noted_at: Date }[],
): Promise<Outgoing[]> {
  const out: Outgoing[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.patient_id} ${row.resource_type} ${row.address}`;
    if (!row.address || seen.has(key)) continue;
    seen.add(key);
    try {
      const patient = await repo.read<Patient>('Patient', row.patient_id).catch(() => undefined);
      const email = emailChangedEmail({
        changed: row.resource_type === 'account' ? 'login' : 'record',
        organizationName: organizationNameOf(patient),
        patientFirstName: patient ? patientFirstName(patient) : undefined,
        changedAt: new Date(row.noted_at),
        timeZone: deps.timeZone,
      });
      out.push({ patientId: row.patient_id, kind: 'email-changed', to: row.address, audience: 'former-address', email });
    } catch (err) {
      deps.logger?.error({ err: { message: (err as Error)?.message }, patientId: row.patient_id }, 'email change notice not prepared');
    }
  }
  return out;
}
