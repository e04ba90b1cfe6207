/**
 * Invoice/{id}/$pay: starts paying a statement. Card data never reaches this service (PCI DSS SAQ-A): the answer is
 * the URL of a hosted checkout at the payment processor, for `amount` (up to the balance; none: the whole
 * balance). Nothing is recorded here; the processor's signed webhook records the money. Whoever sees the statement
 * may pay it (the patient, a family member at billing or full level, staff at the front desk); it is in the
 * patient's activity history.
 */
import type { Invoice, Parameters } from '@medplum/fhirtypes';
import { isAccountCaller } from '../../access/caller';
import { badRequest, clientError, conflict } from '../../fhir/outcomes';
import type { FhirOperation } from '../../fhir/operations/operation';
import type { BillingServices } from './billing-services';
import { balanceOfInvoice } from './statement-balance';
import { cents, formatMoney, money } from './statement-amounts';

/** An amount as a payer types it: dollars and at most two decimals, below ten million. */
const AMOUNT = /^\d{1,7}(\.\d{1,2})?$/;

/** Invoice/{id}/$pay over the configured processor (`baseUrl`: where the processor sends the payer back to). */
export function payOperation(billing: Pick<BillingServices, 'processor' | 'baseUrl'>): FhirOperation {
  return {
    info: { name: 'pay', resourceType: 'Invoice', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Invoice-pay' },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id, params, body }) {
      const unknown = Object.keys(params).filter((name) => name !== 'amount');
      if (unknown.length) throw badRequest(`$pay takes only amount (got ${unknown.join(', ')})`, unknown[0]);
      const { invoice, balance } = await repo.asOperation('$pay', async () => {
        const invoice = await repo.read<Invoice>('Invoice', id as string);
        return { invoice, balance: await balanceOfInvoice(repo, invoice) };
      });
      if (invoice.status !== 'issued' || balance.balance <= 0)
        throw conflict(
          `Invoice/${invoice.id} has nothing to pay (status ${invoice.status}, balance ${formatMoney(balance.balance, balance.currency)})`,
        );
      const amount = amountOf(params.amount, body, balance.currency) ?? balance.balance;
      if (amount <= 0) throw badRequest('amount must be more than zero', 'amount');
      if (amount > balance.balance)
        throw badRequest(
          `amount ${formatMoney(amount, balance.currency)} is more than the balance of ${formatMoney(balance.balance, balance.currency)}`,
          'amount',
        );
      const patientId = /^Patient\/(.+)$/.exec(invoice.subject?.reference ?? '')?.[1];
      if (!patientId) throw badRequest(`Invoice/${invoice.id} names no patient`, 'Invoice.subject');
      const statement = invoice.identifier?.[0]?.value ?? invoice.id;
      let session;
      try {
        session = await billing.processor.createCheckout({
          invoiceId: invoice.id as string,
          patientId,
          ...(isAccountCaller(caller) && caller.kind === 'user' ? { payerAccountId: caller.account.id } : {}),
          amountCents: amount,
          currency: balance.currency,
          description: `${invoice.issuer?.display ?? 'Statement'} - statement ${statement}`,
          returnUrl: `${billing.baseUrl}/billing/checkout-return`,
        });
      } catch (err) {
        throw clientError(
          502,
          `The payment processor (${billing.processor.display}) did not open a checkout: ${(err as Error).message}`,
          'transient',
        );
      }
      const resource: Parameters = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'url', valueUri: session.url },
          { name: 'session', valueString: session.id },
          { name: 'amount', valueMoney: money(amount, balance.currency) },
          { name: 'processor', valueString: billing.processor.display },
        ],
      };
      return { kind: 'resource', status: 201, resource };
    },
  };
}

/** The amount asked for, in cents: a decimal (valueDecimal or valueString) or a valueMoney in the statement's currency. */
function amountOf(flat: string | undefined, body: unknown, currency: string): number | undefined {
  const given = (body as Parameters | undefined)?.parameter?.filter((p) => p.name === 'amount') ?? [];
  if (given.length > 1) throw badRequest('amount is given more than once', 'amount');
  const asMoney = given[0]?.valueMoney;
  if (asMoney) {
    if (asMoney.currency && asMoney.currency !== currency)
      throw badRequest(`amount must be in ${currency}, the statement's currency`, 'amount');
    return checked(String(asMoney.value));
  }
  return flat === undefined ? undefined : checked(flat);
}

function checked(text: string): number {
  if (!AMOUNT.test(text))
    throw badRequest(`amount must be a number of dollars with at most two decimals, got "${text.slice(0, 40)}"`, 'amount');
  return cents({ value: Number(text) }, 'amount');
}
