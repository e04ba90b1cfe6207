/**
 * Records what a verified processor event says, in one transaction: the event id (so a replayed or duplicated event
 * records nothing new), a PaymentReconciliation against the Invoice (and a PaymentNotice for a payment), the Invoice
 * `balanced` once paid in full (back to `issued` if a refund reopens it), and the receipt email queued. Events may
 * come out of order: a payment is recorded once however many events announce it, a failure after its success changes
 * nothing, and a refund of a payment not recorded yet is refused (409, nothing written) so the processor sends it
 * again later. The writes are the processor's, in the patient's activity history under its name.
 */
import { randomUUID } from 'node:crypto';
import type { Invoice, PaymentNotice, PaymentReconciliation, Reference } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import { unrestrictedScope } from '../../access/access-scope';
import type { Tables } from '../../db/tables';
import { AuditTrail } from '../../fhir/audit/audit-trail';
import type { Clock } from '../../fhir/clock';
import { badRequest, conflict } from '../../fhir/outcomes';
import { Repository } from '../../fhir/repository';
import { lockCurrent } from '../../fhir/resource-writer';
import type { PaymentEvent, PaymentProcessor } from './payment-processor';
import { invoiceBalance, money, PAYMENT_PATIENT_EXTENSION, STATEMENT_STATUSES, statementAmounts } from './statement-amounts';

/** Identifies a recorded payment, failure or refund by the processor's id: `<processor>:<id>`. */
export const PAYMENT_ID_SYSTEM = 'https://chartkeeper.example/fhir/payment-processor-id';

const PAYMENT_TYPE = 'http://terminology.hl7.org/CodeSystem/payment-type';

/** What recording an event did. */
export interface RecordedEvent {
  /** new: money or a failure recorded; duplicate: the event id was recorded before; ignored: nothing to record. */
  readonly result: 'new' | 'duplicate' | 'ignored';
  readonly paymentReconciliation?: string;
  readonly invoiceStatus?: Invoice['status'];
}

/** Records processor events for one processor. */
export class PaymentRecorder {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
    private readonly fhirBase: string,
    private readonly processor: Pick<PaymentProcessor, 'name' | 'display'>,
  ) {}

  /** Records one verified event; throws (and writes nothing) when it cannot be recorded. */
  async record(event: PaymentEvent): Promise<RecordedEvent> {
    return this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('payment_event')
        .values({ processor: this.processor.name, event_id: event.id, event_type: event.type, received_at: this.clock.now() })
        .onConflict((oc) => oc.doNothing())
        .returning('event_id')
        .executeTakeFirst();
      if (!inserted) return { result: 'duplicate' };
      if (event.kind === 'ignored') return { result: 'ignored' };
      const agent = { who: { display: `Payment processor (${this.processor.display})` }, name: this.processor.display, requestor: true };
      const repo = new Repository(trx, {
        scope: unrestrictedScope(`payment webhook (${this.processor.name})`),
        clock: this.clock,
        fhirBase: this.fhirBase,
        audit: new AuditTrail(() => agent, this.clock),
      });
      // One statement's payments are recorded one at a time: two events of the same payment, or two payments, seen
      // together cannot both find nothing recorded, nor settle the Invoice on a sum missing the other.
      if (event.invoiceId && event.kind !== 'refunded') await lockCurrent(trx, 'Invoice', event.invoiceId);
      switch (event.kind) {
        case 'paid':
          return this.paid(repo, trx, event);
        case 'failed':
          return this.failed(repo, event);
        case 'refunded':
          return this.refunded(repo, event);
      }
    });
  }

  private async paid(repo: Repository, trx: Kysely<Tables>, event: PaymentEvent): Promise<RecordedEvent> {
    const invoice = await this.invoiceOf(repo, event);
    if (await this.findRecorded(repo, event.paymentId as string)) return { result: 'ignored' };
    const patient = invoice.subject as Reference;
    const reconciliation = this.reconciliation(invoice, event, {
      key: event.paymentId as string,
      outcome: 'complete',
      type: 'payment',
      sign: 1,
      disposition: `Paid online through ${this.processor.display}`,
    });
    const notice: PaymentNotice & { id: string } = {
      resourceType: 'PaymentNotice',
      id: randomUUID(),
      extension: [{ url: PAYMENT_PATIENT_EXTENSION, valueReference: { reference: patient.reference } }],
      status: 'active',
      request: { reference: `Invoice/${invoice.id}` },
      payment: { reference: `PaymentReconciliation/${reconciliation.id}` },
      paymentDate: event.occurredAt.toISOString().slice(0, 10),
      created: this.clock.now().toISOString(),
      recipient: invoice.issuer ?? { display: 'The practice' },
      amount: reconciliation.paymentAmount,
      paymentStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/paymentstatus', code: 'paid', display: 'Paid' }] },
    };
    await repo.createMany([reconciliation, notice]);
    const status = await this.settle(repo, invoice);
    await trx
      .insertInto('billing_notice')
      .values({
        kind: 'receipt',
        patient_id: referenceId(patient) as string,
        invoice_id: invoice.id as string,
        payment_id: reconciliation.id,
        payer_account_id: event.payerAccountId ?? null,
        card_last4: event.cardLast4 ?? null,
        noted_at: this.clock.now(),
      })
      .execute();
    return { result: 'new', paymentReconciliation: reconciliation.id, invoiceStatus: status };
  }

  private async failed(repo: Repository, event: PaymentEvent): Promise<RecordedEvent> {
    const invoice = await this.invoiceOf(repo, event);
    // A failure reported after the payment went through (events out of order) changes nothing.
    if (await this.findRecorded(repo, event.paymentId as string)) return { result: 'ignored' };
    const key = `${event.paymentId}#failed`;
    if (await this.findRecorded(repo, key)) return { result: 'ignored' };
    const reconciliation = this.reconciliation(invoice, event, {
      key,
      outcome: 'error',
      type: 'payment',
      sign: 1,
      disposition: `The payment did not go through at ${this.processor.display}`,
    });
    await repo.createMany([reconciliation]);
    return { result: 'new', paymentReconciliation: reconciliation.id, invoiceStatus: invoice.status };
  }

  private async refunded(repo: Repository, event: PaymentEvent): Promise<RecordedEvent> {
    const original = await this.findRecorded(repo, event.paymentId as string);
    const invoiceRef = original?.detail?.find((d) => d.request?.reference?.startsWith('Invoice/'))?.request?.reference;
    if (!original || !invoiceRef) {
      throw conflict(
        `The refund ${event.refundId} is of a payment not recorded yet (${event.paymentId}); it is recorded when the processor sends it again`,
      );
    }
    await lockCurrent(repo.db, 'Invoice', referenceId({ reference: invoiceRef }) as string);
    if (await this.findRecorded(repo, event.refundId as string)) return { result: 'ignored' };
    const invoice = await repo.read<Invoice>('Invoice', referenceId({ reference: invoiceRef }) as string);
    const reconciliation = this.reconciliation(invoice, event, {
      key: event.refundId as string,
      outcome: 'complete',
      type: 'adjustment',
      sign: -1,
      disposition: `Refunded through ${this.processor.display}`,
    });
    await repo.createMany([reconciliation]);
    const status = await this.settle(repo, invoice);
    return { result: 'new', paymentReconciliation: reconciliation.id, invoiceStatus: status };
  }

  /**
   * The Invoice an event pays: one of the patient the event names, in its currency. Money received for a statement
   * cancelled since the checkout opened is recorded all the same (the practice refunds it); the Invoice stays as it is.
   */
  private async invoiceOf(repo: Repository, event: PaymentEvent): Promise<Invoice> {
    const invoice = await repo.read<Invoice>('Invoice', event.invoiceId as string).catch(() => undefined);
    if (!invoice) throw badRequest(`The event pays Invoice/${event.invoiceId}, which does not exist`);
    if (invoice.subject?.reference !== `Patient/${event.patientId}`) throw badRequest(`The event's patient is not Invoice/${invoice.id}'s`);
    const { currency } = statementAmounts(invoice);
    if (event.currency !== currency) throw badRequest(`The event is in ${event.currency}; Invoice/${invoice.id} is in ${currency}`);
    return invoice;
  }

  /** A payment, failure or refund already recorded under this processor id. */
  private async findRecorded(repo: Repository, key: string): Promise<PaymentReconciliation | undefined> {
    const [found] = await repo.searchResources<PaymentReconciliation>('PaymentReconciliation', {
      identifier: `${PAYMENT_ID_SYSTEM}|${this.processor.name}:${key}`,
      _count: '1',
    });
    return found;
  }

  private reconciliation(
    invoice: Invoice,
    event: PaymentEvent,
    how: { key: string; outcome: 'complete' | 'error'; type: 'payment' | 'adjustment'; sign: 1 | -1; disposition: string },
  ): PaymentReconciliation & { id: string } {
    const currency = event.currency as string;
    const amount = event.amountCents as number;
    return {
      resourceType: 'PaymentReconciliation',
      id: randomUUID(),
      extension: [{ url: PAYMENT_PATIENT_EXTENSION, valueReference: { reference: invoice.subject?.reference } }],
      identifier: [{ system: PAYMENT_ID_SYSTEM, value: `${this.processor.name}:${how.key}` }],
      status: 'active',
      created: this.clock.now().toISOString(),
      paymentDate: event.occurredAt.toISOString().slice(0, 10),
      paymentAmount: money(amount, currency),
      paymentIdentifier: { system: PAYMENT_ID_SYSTEM, value: `${this.processor.name}:${event.paymentId}` },
      outcome: how.outcome,
      disposition: how.disposition,
      detail: [
        {
          type: { coding: [{ system: PAYMENT_TYPE, code: how.type }] },
          request: { reference: `Invoice/${invoice.id}` },
          date: event.occurredAt.toISOString().slice(0, 10),
          amount: money(how.sign * amount, currency),
        },
      ],
    };
  }

  /** The Invoice balanced when nothing is owed on it any more, issued again when a refund reopens it. */
  private async settle(repo: Repository, stale: Invoice): Promise<Invoice['status']> {
    const invoice = await repo.read<Invoice>('Invoice', stale.id as string);
    const payments = await repo.searchResources<PaymentReconciliation>('PaymentReconciliation', { invoice: `Invoice/${invoice.id}` });
    const { balance } = invoiceBalance(invoice, payments);
    const status = balance <= 0 ? 'balanced' : 'issued';
    if (STATEMENT_STATUSES.has(invoice.status) && invoice.status !== status) await repo.update<Invoice>({ ...invoice, status });
    return STATEMENT_STATUSES.has(invoice.status) ? status : invoice.status;
  }
}

/** The id of a `Type/id` reference. */
export function referenceId(reference: Reference | undefined): string | undefined {
  return /^[A-Za-z]+\/([A-Za-z0-9\-.]{1,64})$/.exec(reference?.reference ?? '')?.[1];
}
