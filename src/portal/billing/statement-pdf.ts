/**
 * The printable statement: practice, patient, statement date and number, each visit (date, provider, service,
 * charge), what the insurer paid and adjusted, the patient's payments, and the balance due. Built from what a
 * billing-level reader may see: no diagnosis, no reason for the visit, nothing clinical.
 */
import type { ChargeItem, Invoice, Patient, PaymentReconciliation } from '@medplum/fhirtypes';
import PDFDocument from 'pdfkit';
import { patientDisplayName } from '../../auth/account-context';
import { formatCalendarDate } from '../../mail/templates/email-layout';
import { cents, formatMoney, type InvoiceBalance } from './statement-amounts';

/** One printed service line. */
export interface StatementLine {
  readonly date: string;
  readonly provider: string;
  readonly service: string;
  readonly charge: string;
}

/** What the statement prints. */
export interface StatementContent {
  readonly invoice: Invoice;
  readonly patient: Patient;
  /** The ChargeItems the line items name, as the caller sees them (by id). */
  readonly charges: ReadonlyMap<string, ChargeItem>;
  readonly payments: readonly PaymentReconciliation[];
  readonly balance: InvoiceBalance;
}

/** The service lines of a statement, in line-item order. */
export function statementLines(content: StatementContent): StatementLine[] {
  const { invoice, charges, balance } = content;
  return (invoice.lineItem ?? []).map((line, i) => {
    const id = /^ChargeItem\/(.+)$/.exec(line.chargeItemReference?.reference ?? '')?.[1];
    const item = id ? charges.get(id) : undefined;
    const concept = item?.code ?? line.chargeItemCodeableConcept;
    const coding = concept?.coding?.[0];
    const service = [coding?.code, coding?.display ?? concept?.text].filter(Boolean).join(' ') || 'Service';
    const base = line.priceComponent?.find((c) => c.type === 'base');
    const when = item?.occurrenceDateTime ?? item?.occurrencePeriod?.start ?? invoice.date;
    return {
      date: when ? formatCalendarDate(when.slice(0, 10)) : '',
      provider: item?.performer?.[0]?.actor?.display ?? invoice.issuer?.display ?? '',
      service,
      charge: base ? formatMoney(cents(base.amount, `Invoice.lineItem[${i}]`), balance.currency) : '',
    };
  });
}

/** The statement as a PDF. */
export function renderStatementPdf(content: StatementContent, now: Date): Promise<Buffer> {
  const { invoice, patient, balance } = content;
  const currency = balance.currency;
  const practice = invoice.issuer?.display ?? 'Your practice';
  const doc = new PDFDocument({
    size: 'LETTER',
    margin: 54,
    compress: false,
    info: {
      Title: `Statement ${invoice.identifier?.[0]?.value ?? invoice.id}`,
      Author: practice,
      Creator: 'Chartkeeper',
      CreationDate: now,
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.font('Helvetica-Bold').fontSize(16).text('Statement');
  doc.font('Helvetica').fontSize(10).fillColor('#444').text(practice);
  doc.moveDown(0.8).fillColor('#000').fontSize(11);
  doc.font('Helvetica-Bold').text(`Patient: ${patientDisplayName(patient)}`);
  doc.font('Helvetica').fontSize(10);
  doc.text(`Statement number: ${invoice.identifier?.[0]?.value ?? invoice.id}`);
  if (invoice.date) doc.text(`Statement date: ${formatCalendarDate(invoice.date.slice(0, 10))}`);
  doc.moveDown(0.8);
  table(doc, statementLines(content));
  doc.moveDown(0.8);
  const row = (label: string, amount: number, bold = false): void => {
    doc
      .font(bold ? 'Helvetica-Bold' : 'Helvetica')
      .fontSize(10)
      .text(`${label}: ${formatMoney(amount, currency)}`);
  };
  row('Total charges', balance.charges);
  row('Insurance payments', -balance.insurerPaid);
  if (balance.adjustments) row('Insurance adjustments', -balance.adjustments);
  row('Patient responsibility', balance.responsibility);
  for (const payment of content.payments) {
    if (payment.status !== 'active' || payment.outcome !== 'complete') continue;
    for (const detail of payment.detail ?? []) {
      if (detail.request?.reference !== `Invoice/${invoice.id}`) continue;
      const amount = cents(detail.amount, 'PaymentReconciliation.detail.amount');
      const date = payment.paymentDate ? formatCalendarDate(payment.paymentDate) : '';
      row(amount >= 0 ? `Patient payment ${date}` : `Refund ${date}`, -amount);
    }
  }
  doc.moveDown(0.3);
  row('Balance due', balance.balance, true);
  if (invoice.paymentTerms) doc.moveDown(0.6).font('Helvetica').fontSize(9).fillColor('#444').text(invoice.paymentTerms);
  doc.fillColor('#444').fontSize(9).text('Pay online through your portal account.');
  doc.end();
  return done;
}

const COLUMNS: readonly { readonly key: keyof StatementLine; readonly title: string; readonly width: number }[] = [
  { key: 'date', title: 'Date of service', width: 100 },
  { key: 'provider', title: 'Provider', width: 120 },
  { key: 'service', title: 'Service', width: 210 },
  { key: 'charge', title: 'Charge', width: 70 },
];

function table(doc: PDFKit.PDFDocument, rows: readonly StatementLine[]): void {
  const left = doc.page.margins.left;
  const line = (values: string[], bold: boolean): void => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(9);
    const height = Math.max(...values.map((value, i) => doc.heightOfString(value, { width: COLUMNS[i].width - 6 }))) + 4;
    if (doc.y + height > doc.page.height - doc.page.margins.bottom) doc.addPage();
    const top = doc.y;
    let x = left;
    values.forEach((value, i) => {
      doc.text(value, x, top, { width: COLUMNS[i].width - 6 });
      x += COLUMNS[i].width;
    });
    doc.x = left;
    doc.y = top + height;
  };
  line(
    COLUMNS.map((c) => c.title),
    true,
  );
  for (const row of rows)
    line(
      COLUMNS.map((c) => row[c.key]),
      false,
    );
}
