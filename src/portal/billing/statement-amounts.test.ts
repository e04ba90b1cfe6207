import type { Invoice, PaymentReconciliation } from '@medplum/fhirtypes';
import { BILLING_COMPONENT_SYSTEM, formatMoney, invoiceBalance, statementAmounts } from './statement-amounts';

const usd = (value: number) => ({ value, currency: 'USD' as const });
const coded = (type: 'deduction' | 'informational', code: string, value: number) => ({
  type,
  code: { coding: [{ system: BILLING_COMPONENT_SYSTEM, code }] },
  amount: usd(value),
});

const invoice: Invoice = {
  resourceType: 'Invoice',
  id: 'inv-1',
  status: 'issued',
  lineItem: [
    { priceComponent: [{ type: 'base', amount: usd(18) }] },
    { priceComponent: [{ type: 'base', amount: usd(62) }] },
    { priceComponent: [{ type: 'base', amount: usd(41) }] },
  ],
  totalPriceComponent: [
    coded('deduction', 'insurer-payment', 90.4),
    coded('deduction', 'adjustment', 18),
    coded('informational', 'patient-responsibility', 12.6),
  ],
  totalGross: usd(121),
  totalNet: usd(12.6),
};

const payment = (amount: number, extra: Partial<PaymentReconciliation> = {}): PaymentReconciliation => ({
  resourceType: 'PaymentReconciliation',
  status: 'active',
  outcome: 'complete',
  created: '2026-11-22',
  paymentDate: '2026-11-22',
  paymentAmount: usd(Math.abs(amount)),
  detail: [{ type: { text: 'payment' }, request: { reference: 'Invoice/inv-1' }, amount: usd(amount) }],
  ...extra,
});

test('a statement’s amounts, in cents, read from its price components', () => {
  expect(statementAmounts(invoice)).toEqual({
    currency: 'USD',
    charges: 12100,
    insurerPaid: 9040,
    adjustments: 1800,
    responsibility: 1260,
  });
  // Without a patient-responsibility component, totalNet is what the patient owes; without it, charges less deductions.
  expect(statementAmounts({ ...invoice, totalPriceComponent: invoice.totalPriceComponent!.slice(0, 2) }).responsibility).toBe(1260);
  expect(
    statementAmounts({ ...invoice, totalNet: undefined, totalPriceComponent: invoice.totalPriceComponent!.slice(0, 2) }).responsibility,
  ).toBe(1260);
});

test('a balance is the responsibility less completed payments of this Invoice, without float drift', () => {
  const paid = [payment(0.1), payment(0.2), payment(12.3)];
  expect(invoiceBalance(invoice, paid)).toMatchObject({ paid: 1260, balance: 0 });
  // A refund is a negative detail; failed, cancelled and other statements' payments count nothing.
  const others = [
    payment(5, { outcome: 'error' }),
    payment(5, { status: 'cancelled' }),
    { ...payment(5), detail: [{ type: { text: 'payment' }, request: { reference: 'Invoice/inv-2' }, amount: usd(5) }] },
  ];
  expect(invoiceBalance(invoice, [...paid, payment(-2.5), ...others])).toMatchObject({ paid: 1010, balance: 250 });
});

test('a statement in two currencies is refused', () => {
  expect(() => statementAmounts({ ...invoice, totalGross: { value: 121, currency: 'EUR' } })).toThrow('mixes currencies (USD, EUR)');
});

test('amounts print as dollars and cents', () => {
  expect([formatMoney(2500, 'USD'), formatMoney(-9500, 'USD'), formatMoney(123456789, 'USD'), formatMoney(1260, 'EUR')]).toEqual([
    '$25.00',
    '-$95.00',
    '$1,234,567.89',
    '12.60 EUR',
  ]);
});
