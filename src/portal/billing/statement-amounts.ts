/**
 * What a statement says in money: an Invoice's charges, what the insurer paid and adjusted, the patient's
 * responsibility, and what the patient has paid since (PaymentReconciliations). Amounts are counted in cents, so a
 * balance never drifts by a float's rounding.
 *
 * How an Invoice carries them (README "Billing"): each line item's `base` price component is the charge; the
 * Invoice's `totalPriceComponent` holds the insurer's payment and contractual adjustment as `deduction`s and the
 * patient's responsibility as an `informational` component, each coded in BILLING_COMPONENT_SYSTEM. Without a
 * patient-responsibility component, `totalNet` is what the patient owes.
 */
import type { Invoice, InvoiceLineItemPriceComponent, Money, PaymentReconciliation } from '@medplum/fhirtypes';
import { badRequest } from '../../fhir/outcomes';

/** The codes of the Invoice's total price components. */
export const BILLING_COMPONENT_SYSTEM = 'https://chartkeeper.example/fhir/CodeSystem/billing-component';

/** Puts a payment in the record of the patient whose bill it pays (fhir-profiles/SearchParameter-*-patient.json). */
export const PAYMENT_PATIENT_EXTENSION = 'https://chartkeeper.example/fhir/StructureDefinition/payment-patient';

/** Statuses of an Invoice that the patient owes on (or has settled): a draft or cancelled one is no statement. */
export const STATEMENT_STATUSES: ReadonlySet<string> = new Set(['issued', 'balanced']);

/** A statement's amounts, in cents of one currency. */
export interface StatementAmounts {
  readonly currency: string;
  readonly charges: number;
  readonly insurerPaid: number;
  readonly adjustments: number;
  /** What the patient owes before any payment of theirs. */
  readonly responsibility: number;
}

/** The statement's amounts and the patient's payments against it. */
export interface InvoiceBalance extends StatementAmounts {
  readonly invoiceId: string;
  /** The patient's payments less refunds, in cents. */
  readonly paid: number;
  /** responsibility - paid: what the patient owes now (negative: a credit). */
  readonly balance: number;
}

/** Whole cents of a Money; a missing or non-finite value is a malformed statement. */
export function cents(money: Money | undefined, where: string): number {
  const value = money?.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badRequest(`${where} has no amount`, where);
  return Math.round(value * 100);
}

/** Cents as a FHIR Money (two decimals). */
export function money(amountCents: number, currency: string): Money {
  return { value: Math.round(amountCents) / 100, currency: currency as Money['currency'] };
}

/** "$25.00" for cents, as a statement prints it. */
export function formatMoney(amountCents: number, currency: string): string {
  const sign = amountCents < 0 ? '-' : '';
  const text = (Math.abs(amountCents) / 100).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return currency === 'USD' ? `${sign}$${text}` : `${sign}${text} ${currency}`;
}

function componentCode(component: InvoiceLineItemPriceComponent): string | undefined {
  return component.code?.coding?.find((c) => c.system === BILLING_COMPONENT_SYSTEM)?.code;
}

/** The amounts an Invoice states; 400 when they are not in one currency. */
export function statementAmounts(invoice: Invoice): StatementAmounts {
  const currencies = new Set<string>();
  const add = (m: Money | undefined) => m?.currency && currencies.add(m.currency);
  let charges = 0;
  for (const [i, line] of (invoice.lineItem ?? []).entries()) {
    for (const component of line.priceComponent ?? []) {
      if (component.type !== 'base') continue;
      add(component.amount);
      charges += cents(component.amount, `Invoice.lineItem[${i}].priceComponent`);
    }
  }
  if (!invoice.lineItem?.length && invoice.totalGross) charges = cents(invoice.totalGross, 'Invoice.totalGross');
  let insurerPaid = 0;
  let adjustments = 0;
  let responsibility: number | undefined;
  for (const component of invoice.totalPriceComponent ?? []) {
    const code = componentCode(component);
    if (!code) continue;
    add(component.amount);
    const amount = cents(component.amount, `Invoice.totalPriceComponent (${code})`);
    if (component.type === 'deduction' && code === 'insurer-payment') insurerPaid += amount;
    else if (component.type === 'deduction' && code === 'adjustment') adjustments += amount;
    else if (component.type === 'informational' && code === 'patient-responsibility') responsibility = amount;
  }
  add(invoice.totalNet);
  add(invoice.totalGross);
  if (currencies.size > 1) throw badRequest(`Invoice/${invoice.id} mixes currencies (${[...currencies].join(', ')})`, 'Invoice');
  const owed = responsibility ?? (invoice.totalNet ? cents(invoice.totalNet, 'Invoice.totalNet') : charges - insurerPaid - adjustments);
  return { currency: [...currencies][0] ?? 'USD', charges, insurerPaid, adjustments, responsibility: owed };
}

/**
 * The patient's payments on an Invoice in cents: each completed, active PaymentReconciliation's details that settle
 * it (a refund is a negative detail). Failed and cancelled payments count nothing.
 */
export function paidCents(invoiceId: string, payments: readonly PaymentReconciliation[]): number {
  let paid = 0;
  for (const payment of payments) {
    if (payment.status !== 'active' || payment.outcome !== 'complete') continue;
    for (const [i, detail] of (payment.detail ?? []).entries()) {
      if (detail.request?.reference !== `Invoice/${invoiceId}`) continue;
      paid += cents(detail.amount, `PaymentReconciliation.detail[${i}].amount`);
    }
  }
  return paid;
}

/** An Invoice's balance after the payments recorded against it. */
export function invoiceBalance(invoice: Invoice, payments: readonly PaymentReconciliation[]): InvoiceBalance {
  const amounts = statementAmounts(invoice);
  const paid = paidCents(invoice.id as string, payments);
  return { ...amounts, invoiceId: invoice.id as string, paid, balance: amounts.responsibility - paid };
}
