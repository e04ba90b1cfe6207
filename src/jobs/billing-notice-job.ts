/**
 * Billing emails: "a statement is available" when an Invoice is issued (the repository queues a billing_notice row in
 * the transaction that issues it), and a receipt after an online payment (queued by the payment webhook with the
 * payment). A statement notice goes to the patient's own portal account and to each family member who holds the
 * patient's billing or full record today: one email per person per patient per run, with no amount and nothing
 * clinical. A receipt goes to the account that paid, or, for a payment made without one (the front desk), to those
 * same readers. A statement cancelled or gone before the run is not announced. Runs every minute; a notice that
 * cannot be sent is logged and not retried, as the other jobs do.
 */
import type { Invoice, Patient, PaymentReconciliation, RelatedPerson } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../access/access-scope';
import { levelAtLeast } from '../access/access-level';
import { accountIdOf } from '../access/proxy-grants';
import { organizationNameOf, patientFirstName } from '../auth/account-context';
import { type Account, AccountStore } from '../auth/account-store';
import { patientAccessOf } from '../auth/caller-scope';
import type { Selectable } from 'kysely';
import type { BillingNoticeTable } from '../db/tables';
import { grantsOfPatient } from '../fhir/proxy-grant-store';
import { Repository } from '../fhir/repository';
import { formatCalendarDate, type RenderedEmail } from '../mail/templates/email-layout';
import { paymentReceiptEmail } from '../mail/templates/payment-receipt-email';
import { statementAvailableEmail } from '../mail/templates/statement-available-email';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';
import { sendNotices } from './notice-mail';

/** Notices taken per run; the rest wait for the next minute. */
const BATCH = 500;

/** One email sent. */
export interface SentBillingNotice {
  readonly kind: 'statement' | 'receipt';
  readonly patientId: string;
  readonly to: string;
  readonly audience: 'patient' | 'family-member';
}

type Notice = Selectable<BillingNoticeTable>;

/** Sends the pending billing emails; undefined when another instance is running the job. */
export async function billingNoticeJob(deps: JobDeps): Promise<SentBillingNotice[] | undefined> {
  // Who is told what is settled, and the notices taken, in one short transaction; the mail goes after it commits.
  const run = await runUnderAdvisoryLock(deps.db, 'billing-notice', async (trx) => {
    const pending = await trx.selectFrom('billing_notice').selectAll().orderBy('seq').limit(BATCH).execute();
    const repo = new Repository(trx, {
      scope: unrestrictedScope('billing-notice job'),
      clock: deps.clock,
      fhirBase: `${deps.baseUrl}/fhir`,
    });
    const accounts = new AccountStore(trx, deps.clock);
    const outgoing: (SentBillingNotice & { email: RenderedEmail })[] = [];
    const statementsTold = new Set<string>();
    for (const notice of pending) {
      try {
        const patient = await repo.read<Patient>('Patient', notice.patient_id).catch(() => undefined);
        const invoice = await repo.read<Invoice>('Invoice', notice.invoice_id).catch(() => undefined);
        if (!patient || !invoice || invoice.subject?.reference !== `Patient/${notice.patient_id}`) continue;
        const statementsUrl = `${deps.baseUrl}/fhir/Invoice?patient=Patient/${notice.patient_id}`;
        if (notice.kind === 'statement') {
          if (invoice.status !== 'issued' && invoice.status !== 'balanced') continue;
          for (const recipient of await readersOf(deps, repo, accounts, notice.patient_id)) {
            const key = `${notice.patient_id}\u0000${recipient.email}`;
            if (statementsTold.has(key)) continue;
            statementsTold.add(key);
            const email = statementAvailableEmail({
              organizationName: organizationNameOf(patient),
              patientFirstName: patientFirstName(patient),
              statementsUrl,
              audience: recipient.audience,
            });
            outgoing.push({ kind: 'statement', patientId: notice.patient_id, to: recipient.email, audience: recipient.audience, email });
          }
        } else {
          const email = await receiptEmail(repo, notice, patient, invoice, statementsUrl);
          if (!email) continue;
          for (const recipient of await receiptRecipients(deps, repo, accounts, notice)) {
            outgoing.push({ kind: 'receipt', patientId: notice.patient_id, to: recipient.email, audience: recipient.audience, email });
          }
        }
      } catch (err) {
        deps.logger?.error({ err: { message: (err as Error)?.message }, patientId: notice.patient_id }, 'billing notice not prepared');
      }
    }
    if (pending.length)
      await trx
        .deleteFrom('billing_notice')
        .where(
          'seq',
          'in',
          pending.map((row) => row.seq),
        )
        .execute();
    return outgoing;
  });
  if (!run.ran) return undefined;
  return sendNotices(deps, run.result, 'billing notice');
}

/** The receipt of the payment a notice names, when it is still a recorded payment. */
async function receiptEmail(
  repo: Repository,
  notice: Notice,
  patient: Patient,
  invoice: Invoice,
  statementsUrl: string,
): Promise<RenderedEmail | undefined> {
  if (!notice.payment_id) return undefined;
  const payment = await repo.read<PaymentReconciliation>('PaymentReconciliation', notice.payment_id).catch(() => undefined);
  if (!payment || payment.outcome !== 'complete' || !payment.paymentAmount) return undefined;
  const amount = payment.paymentAmount;
  const dollars = (amount.value ?? 0).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return paymentReceiptEmail({
    organizationName: invoice.issuer?.display ?? organizationNameOf(patient),
    amount: amount.currency === 'USD' || !amount.currency ? `$${dollars}` : `${dollars} ${amount.currency}`,
    date: formatCalendarDate(payment.paymentDate),
    statementNumber: invoice.identifier?.[0]?.value ?? (invoice.id as string),
    ...(notice.card_last4 ? { cardLast4: notice.card_last4 } : {}),
    statementsUrl,
  });
}

/** The account that paid, when it is still there; else whoever would be told of a statement. */
async function receiptRecipients(deps: JobDeps, repo: Repository, accounts: AccountStore, notice: Notice): Promise<Recipient[]> {
  if (notice.payer_account_id) {
    const payer = await accounts.findById(notice.payer_account_id);
    if (!payer || payer.disabled_at) return [];
    return [{ email: payer.email, audience: payer.patient_id === notice.patient_id ? 'patient' : 'family-member' }];
  }
  return readersOf(deps, repo, accounts, notice.patient_id);
}

interface Recipient {
  readonly email: string;
  readonly audience: 'patient' | 'family-member';
}

/** Accounts that see the patient's bills today, once per address: their own, and family at billing level or above. */
async function readersOf(deps: JobDeps, repo: Repository, accounts: AccountStore, patientId: string): Promise<Recipient[]> {
  const out = new Map<string, 'patient' | 'family-member'>();
  const seesBilling = async (account: Account | undefined): Promise<boolean> => {
    if (!account || account.disabled_at) return false;
    // Through the job's transaction: the embedded database has one connection, and the transaction holds it.
    const access = await patientAccessOf(repo.db, account, { clock: deps.clock, timeZone: deps.timeZone, policy: deps.policy });
    return access.some((a) => a.patientId === patientId && levelAtLeast(a.level, 'billing'));
  };
  const own = await accounts.findByPatientId(patientId);
  if (own && (await seesBilling(own))) out.set(own.email, 'patient');
  for (const grant of await grantsOfPatient(repo, patientId)) {
    if (!grant.active) continue;
    const person = await repo.read<RelatedPerson>('RelatedPerson', grant.relatedPersonId).catch(() => undefined);
    const accountId = accountIdOf(person);
    const account = accountId ? await accounts.findById(accountId) : undefined;
    if (account && !out.has(account.email) && (await seesBilling(account))) out.set(account.email, 'family-member');
  }
  return [...out].map(([email, audience]) => ({ email, audience }));
}
