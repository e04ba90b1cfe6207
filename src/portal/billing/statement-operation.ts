/**
 * Invoice/{id}/$statement: the statement as a PDF to print (statement-pdf.ts). Whoever sees the Invoice may print it
 * (the patient, a family member at billing or full level, staff); what it names is read with the caller's access, so
 * a billing-only reader's statement holds what their level shows and never a diagnosis. It is in the patient's
 * activity history whoever prints it.
 */
import type { ChargeItem, Invoice, Patient } from '@medplum/fhirtypes';
import { badRequest } from '../../fhir/outcomes';
import type { FhirOperation } from '../../fhir/operations/operation';
import { STATEMENT_STATUSES, invoiceBalance } from './statement-amounts';
import { paymentsFor } from './statement-balance';
import { renderStatementPdf } from './statement-pdf';

/** Invoice/{id}/$statement. */
export const statementOperation: FhirOperation = {
  info: { name: 'statement', resourceType: 'Invoice', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Invoice-statement' },
  level: 'instance',
  methods: ['GET'],
  async handle({ repo, id, params }) {
    const unknown = Object.keys(params).filter((name) => name !== '_format');
    if (unknown.length) throw badRequest(`$statement takes no parameters (got ${unknown.join(', ')})`, unknown[0]);
    const content = await repo.asOperation('$statement', async () => {
      const invoice = await repo.read<Invoice>('Invoice', id as string);
      if (!STATEMENT_STATUSES.has(invoice.status))
        throw badRequest(`Invoice/${invoice.id} is ${invoice.status}, not a statement (issued or balanced)`);
      const patientId = /^Patient\/(.+)$/.exec(invoice.subject?.reference ?? '')?.[1];
      if (!patientId) throw badRequest(`Invoice/${invoice.id} names no patient`, 'Invoice.subject');
      const patient = await repo.read<Patient>('Patient', patientId);
      const chargeIds = (invoice.lineItem ?? [])
        .map((l) => /^ChargeItem\/([A-Za-z0-9\-.]{1,64})$/.exec(l.chargeItemReference?.reference ?? '')?.[1])
        .filter((x): x is string => !!x);
      const charges = new Map<string, ChargeItem>();
      if (chargeIds.length)
        for (const item of await repo.searchResources<ChargeItem>('ChargeItem', { _id: chargeIds.join(',') }))
          charges.set(item.id as string, item);
      const payments = await paymentsFor(repo, [invoice.id as string]);
      return { invoice, patient, charges, payments, balance: invoiceBalance(invoice, payments) };
    });
    const pdf = await renderStatementPdf(content, repo.context.clock.now());
    return {
      kind: 'content',
      contentType: 'application/pdf',
      body: pdf,
      headers: { 'Content-Disposition': `inline; filename="statement-${content.invoice.id}.pdf"` },
    };
  },
};
