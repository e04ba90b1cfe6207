/**
 * Balances as the caller may see them: every read goes through the caller's repository, so a billing-only family
 * member reaches the Account, Invoices and payments of the record they hold and nothing else.
 */
import type { Account, Invoice, ParametersParameter, PaymentReconciliation } from '@medplum/fhirtypes';
import { badRequest } from '../../fhir/outcomes';
import type { Repository } from '../../fhir/repository';
import { type InvoiceBalance, invoiceBalance, money, STATEMENT_STATUSES } from './statement-amounts';

/** An Account's statements and what is owed on it now. */
export interface AccountBalance {
  readonly account: Account;
  readonly currency: string;
  readonly balance: number;
  readonly invoices: readonly InvoiceBalance[];
}

/** The payments recorded against these Invoices (one search for all of them). */
export async function paymentsFor(repo: Repository, invoiceIds: readonly string[]): Promise<PaymentReconciliation[]> {
  if (!invoiceIds.length) return [];
  const out: PaymentReconciliation[] = [];
  // A search value list stays short: 100 Invoices per search.
  for (let i = 0; i < invoiceIds.length; i += 100) {
    const invoice = invoiceIds
      .slice(i, i + 100)
      .map((id) => `Invoice/${id}`)
      .join(',');
    out.push(...(await repo.searchResources<PaymentReconciliation>('PaymentReconciliation', { invoice })));
  }
  return out;
}

/** One Invoice's balance, from the payments the caller sees. */
export async function balanceOfInvoice(repo: Repository, invoice: Invoice): Promise<InvoiceBalance> {
  return invoiceBalance(invoice, await paymentsFor(repo, [invoice.id as string]));
}

/** What is owed on an Account now: its issued and balanced Invoices less the payments against them. */
export async function balanceOfAccount(repo: Repository, account: Account): Promise<AccountBalance> {
  const invoices = (await repo.searchResources<Invoice>('Invoice', { account: `Account/${account.id}`, _sort: 'date' })).filter((i) =>
    STATEMENT_STATUSES.has(i.status),
  );
  const payments = await paymentsFor(
    repo,
    invoices.map((i) => i.id as string),
  );
  const balances = invoices.map((invoice) => invoiceBalance(invoice, payments));
  const currencies = new Set(balances.map((b) => b.currency));
  if (currencies.size > 1) throw badRequest(`Account/${account.id} has statements in several currencies (${[...currencies].join(', ')})`);
  return {
    account,
    currency: balances[0]?.currency ?? 'USD',
    balance: balances.reduce((sum, b) => sum + b.balance, 0),
    invoices: balances,
  };
}

/** An Account's balance as `$balance` answers it: the total, and one part per statement. */
export function balanceParameters(balance: AccountBalance): ParametersParameter[] {
  const { currency } = balance;
  return [
    {
      name: 'account',
      valueReference: { reference: `Account/${balance.account.id}`, ...(balance.account.name ? { display: balance.account.name } : {}) },
    },
    { name: 'balance', valueMoney: money(balance.balance, currency) },
    ...balance.invoices.map((b) => ({
      name: 'invoice',
      part: [
        { name: 'invoice', valueReference: { reference: `Invoice/${b.invoiceId}` } },
        { name: 'charges', valueMoney: money(b.charges, b.currency) },
        { name: 'insurerPaid', valueMoney: money(b.insurerPaid, b.currency) },
        { name: 'adjustments', valueMoney: money(b.adjustments, b.currency) },
        { name: 'patientResponsibility', valueMoney: money(b.responsibility, b.currency) },
        { name: 'patientPaid', valueMoney: money(b.paid, b.currency) },
        { name: 'balance', valueMoney: money(b.balance, b.currency) },
      ],
    })),
  ];
}
