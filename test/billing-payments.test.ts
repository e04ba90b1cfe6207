/**
 * Online bill pay (issue 18, "Paying" and "Proof"): a billing-only parent pays her teen's statement through the hosted
 * checkout of the demo processor, whose signed webhook records a PaymentReconciliation and a PaymentNotice; the
 * balance drops, the statement is balanced, the receipt reaches the loopback SMTP server. A replayed webhook, a wrong
 * signature, a stale timestamp, an amount above the balance, a refund before its payment: nothing new is written.
 */
import type { Account, Invoice, Patient, PaymentNotice, PaymentReconciliation } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { billingNoticeJob } from '../src/jobs/billing-notice-job';
import type { JobDeps } from '../src/jobs/job-deps';
import type { DemoPaymentProcessor } from '../src/portal/billing/demo-payment-processor';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';
import { appJobDeps } from './support/app-job-deps';

const ADA = DEMO_PEOPLE.ada.email as string;

// Seeding the demo family and signing in on a machine shared with other suites can take more than jest's minute.
jest.setTimeout(180_000);

describe('online bill pay', () => {
  let app: AuthTestApp;
  let deps: JobDeps;
  let demo: DemoPaymentProcessor;
  let ada: string;
  let cara: { patientId: string; invoice: Invoice; account: Account };

  beforeAll(async () => {
    app = await startAuthTestApp();
    deps = appJobDeps(app);
    demo = app.services.billing.demo as DemoPaymentProcessor;
    ada = (await app.login(ADA, DEMO_PASSWORD)).access_token;
    const patients = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    const patientId = patients.find((p) => p.name?.[0]?.given?.[0] === 'Cara')!.id!;
    const [invoice] = await app.system.searchResources<Invoice>('Invoice', { patient: `Patient/${patientId}`, status: 'issued' });
    const [account] = await app.system.searchResources<Account>('Account', { patient: `Patient/${patientId}` });
    cara = { patientId, invoice, account };
    // The seeded statements' own notices go first, so this file counts only the receipts it causes.
    await billingNoticeJob(deps);
  });
  afterAll(() => app?.close());

  const balanceOf = async (token = ada): Promise<number> => {
    const res = await app.call('GET', `/fhir/Account/${cara.account.id}/$balance`, { token });
    expect(res.status).toBe(200);
    return res.body.parameter.find((p: any) => p.name === 'balance').valueMoney.value;
  };
  const recorded = async (): Promise<{ payments: number; notices: number; events: number }> => ({
    payments: (await app.system.searchResources<PaymentReconciliation>('PaymentReconciliation', { patient: `Patient/${cara.patientId}` }))
      .length,
    notices: (await app.system.searchResources<PaymentNotice>('PaymentNotice', { patient: `Patient/${cara.patientId}` })).length,
    events: Number((await sql<{ n: string }>`select count(*) as n from payment_event`.execute(app.database.db)).rows[0].n),
  });
  const pay = (json: unknown, token = ada) => app.call('POST', `/fhir/Invoice/${cara.invoice.id}/$pay`, { token, json });
  const webhook = (body: Buffer | string, signature?: string) =>
    fetch(`${app.url}/billing/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
      body,
    });

  it('a payment above the balance is refused (400) and opens no checkout', async () => {
    const res = await pay({ resourceType: 'Parameters', parameter: [{ name: 'amount', valueDecimal: 25.01 }] });
    expect([res.status, outcomeText(res.body)]).toEqual([400, 'amount $25.01 is more than the balance of $25.00']);
    for (const amount of ['-5', '0', '1e3', '12.345', 'ten']) {
      const bad = await pay({ resourceType: 'Parameters', parameter: [{ name: 'amount', valueString: amount }] });
      expect([amount, bad.status]).toEqual([amount, 400]);
    }
    expect((await pay({ resourceType: 'Parameters', parameter: [{ name: 'card', valueString: '4242424242424242' }] })).status).toBe(400);
  });

  it('Ada pays Cara’s statement as a billing-only parent: hosted session, signed webhook, PaymentReconciliation, balance drops, receipt', async () => {
    expect(await balanceOf()).toBe(25);
    const before = await recorded();
    const started = await pay({ resourceType: 'Parameters', parameter: [] });
    expect(started.status).toBe(201);
    const url = started.body.parameter.find((p: any) => p.name === 'url').valueUri as string;
    expect(started.body.parameter.find((p: any) => p.name === 'amount').valueMoney).toEqual({ value: 25, currency: 'USD' });
    expect(url.startsWith(`${app.url}/billing/demo-checkout/`)).toBe(true);
    // Opening a checkout records nothing: only the webhook records money.
    expect(await recorded()).toEqual(before);

    const page = await fetch(url);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('DEMO PAYMENT PROCESSOR');
    expect(html).toContain('25.00 USD');
    expect(html).not.toMatch(/asthma|J45/i);

    const mails = app.smtp.received.length;
    const paid = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=pay',
      redirect: 'manual',
    });
    expect([paid.status, paid.headers.get('location')]).toEqual([303, `${app.url}/billing/checkout-return?checkout=success`]);
    expect(await recorded()).toEqual({ payments: before.payments + 1, notices: before.notices + 1, events: before.events + 1 });
    expect(await balanceOf()).toBe(0);
    expect((await app.system.read<Invoice>('Invoice', cara.invoice.id!)).status).toBe('balanced');

    // Ada sees the payment in Cara's billing: the PaymentReconciliation is in Cara's record, at billing level.
    const seen = await app.call('GET', `/fhir/PaymentReconciliation?patient=Patient/${cara.patientId}`, { token: ada });
    const payment = seen.body.entry
      .map((e: any) => e.resource)
      .find((r: PaymentReconciliation) => r.disposition?.startsWith('Paid online'));
    expect([payment.outcome, payment.paymentAmount, payment.detail[0].request.reference, payment.detail[0].amount]).toEqual([
      'complete',
      { value: 25, currency: 'USD' },
      `Invoice/${cara.invoice.id}`,
      { value: 25, currency: 'USD' },
    ]);

    // Dan holds Ada's record, not Cara's: her payments are not his to see.
    const dan = (await app.login(DEMO_PEOPLE.dan.email as string, DEMO_PASSWORD)).access_token;
    expect((await app.call('GET', `/fhir/PaymentReconciliation/${payment.id}`, { token: dan })).status).toBe(404);
    expect(
      (
        await app.call(
          'GET',
          `/fhir/PaymentNotice?_id=${(await app.system.searchResources<PaymentNotice>('PaymentNotice', { request: `Invoice/${cara.invoice.id}` }))[0].id}`,
          { token: dan },
        )
      ).body.entry ?? [],
    ).toEqual([]);

    expect((await billingNoticeJob(deps))?.map((n) => [n.kind, n.to])).toEqual([['receipt', ADA]]);
    const receipt = await app.mailTo(ADA, mails);
    expect(receipt.message.subject).toBe('Your payment to Westside Family Medicine was received');
    expect(receipt.message.text).toContain('We received your payment of $25.00 on');
    expect(receipt.message.text).toContain('the card ending in 4242');
    expect(receipt.message.text).not.toMatch(/asthma|J45|99213|office/i);

    // The payment is in Cara's activity history: Ada's $pay, and the processor's write.
    const history = await app.system.searchResources<any>('AuditEvent', { patient: `Patient/${cara.patientId}` });
    expect(
      history.some((e) => e.entity?.some((x: any) => x.detail?.some((d: any) => d.valueString === '$pay')) && e.agent?.[0]?.altId),
    ).toBe(true);
    expect(history.some((e) => e.agent?.[0]?.who?.display === 'Payment processor (Demo processor (no real payment))')).toBe(true);
  });

  it('the same webhook replayed records nothing new; a wrong signature or a stale timestamp is 400 with nothing written', async () => {
    const invoice = await statementFor(app, cara, 20);
    const session = { ...sessionFor({ ...cara, invoice }), id: 'cs_demo_replay000000000000', amountCents: 2000 };
    const event = demo.signedEvent(session, 'pay');
    const first = await webhook(event.body, event.signature);
    expect([first.status, await resultOf(first)]).toEqual([200, 'new']);
    const before = await recorded();
    const again = await webhook(event.body, event.signature);
    expect([again.status, await resultOf(again)]).toEqual([200, 'duplicate']);
    expect(await recorded()).toEqual(before);

    const other = demo.signedEvent({ ...session, id: 'cs_demo_forged00000000000000' }, 'pay');
    const forged = other.signature.replace(/v1=([0-9a-f])/, (_m, c: string) => `v1=${c === '0' ? '1' : '0'}`);
    const wrong = await webhook(other.body, forged);
    expect(wrong.status).toBe(400);
    expect(outcomeText(await wrong.json())).toMatch(/^The webhook's signature does not verify/);
    expect((await webhook(other.body)).status).toBe(400);
    // The body changed after signing: the signature no longer covers it.
    const altered = other.body.toString().replace('"amount_total":2000', '"amount_total":1');
    expect(altered).not.toBe(other.body.toString());
    expect((await webhook(altered, other.signature)).status).toBe(400);

    app.clock.advance(-10 * 60_000);
    const stale = demo.signedEvent({ ...session, id: 'cs_demo_stale000000000000000' }, 'pay');
    app.clock.advance(10 * 60_000);
    const late = await webhook(stale.body, stale.signature);
    expect(late.status).toBe(400);
    expect(outcomeText(await late.json())).toMatch(/Timestamp outside the tolerance zone/);
    expect(await recorded()).toEqual(before);
  });

  it('a refund sent before its payment is refused (409, nothing written); once the payment is in, it reopens the statement', async () => {
    const invoice = await statementFor(app, cara, 40);
    const session = { ...sessionFor({ ...cara, invoice }), id: 'cs_demo_refund00000000000000', amountCents: 4000 };
    const refund = demo.sign({
      id: 'evt_demo_refund_1',
      object: 'event',
      type: 'refund.created',
      created: Math.floor(app.clock.now().getTime() / 1000),
      data: {
        object: {
          id: 're_demo_1',
          object: 'refund',
          amount: 1500,
          currency: 'usd',
          status: 'succeeded',
          payment_intent: 'pi_demo_refund00000000000000',
        },
      },
    });
    const before = await recorded();
    const early = await webhook(refund.body, refund.signature);
    expect(early.status).toBe(409);
    expect(await recorded()).toEqual(before);

    const paid = demo.signedEvent(session, 'pay');
    expect(await resultOf(await webhook(paid.body, paid.signature))).toBe('new');
    expect((await app.system.read<Invoice>('Invoice', invoice.id!)).status).toBe('balanced');
    // A failure reported after the success changes nothing.
    const failed = demo.signedEvent(session, 'decline');
    expect(await resultOf(await webhook(failed.body, failed.signature))).toBe('ignored');

    // The processor sends the refund again: now it is recorded, and the statement is owed on again.
    expect(await resultOf(await webhook(refund.body, refund.signature))).toBe('new');
    expect((await app.system.read<Invoice>('Invoice', invoice.id!)).status).toBe('issued');
    const res = await app.call('GET', `/fhir/Account/${cara.account.id}/$balance`, { token: ada });
    const part = res.body.parameter
      .filter((p: any) => p.name === 'invoice')
      .map((p: any) => Object.fromEntries(p.part.map((x: any) => [x.name, x.valueMoney?.value ?? x.valueReference?.reference])))
      .find((p: any) => p.invoice === `Invoice/${invoice.id}`);
    expect([part.patientResponsibility, part.patientPaid, part.balance]).toEqual([40, 25, 15]);
  });

  it('events of one payment arriving together record it once, and the statement is settled on the whole sum', async () => {
    const invoice = await statementFor(app, cara, 50);
    const session = { ...sessionFor({ ...cara, invoice }), id: 'cs_demo_together000000000000', amountCents: 5000 };
    const completed = demo.signedEvent(session, 'pay');
    const event = JSON.parse(completed.body.toString());
    const succeeded = demo.sign({ ...event, id: 'evt_demo_together_async', type: 'checkout.session.async_payment_succeeded' });
    const results = await Promise.all([
      webhook(completed.body, completed.signature),
      webhook(succeeded.body, succeeded.signature),
      webhook(completed.body, completed.signature),
    ]);
    expect((await Promise.all(results.map(resultOf))).sort()).toEqual(['duplicate', 'ignored', 'new']);
    const payments = await app.system.searchResources<PaymentReconciliation>('PaymentReconciliation', { invoice: `Invoice/${invoice.id}` });
    expect(payments.map((p) => p.paymentAmount.value)).toEqual([50]);
    expect((await app.system.read<Invoice>('Invoice', invoice.id!)).status).toBe('balanced');
  });

  it('money received for a statement cancelled since its checkout opened is recorded; the statement stays cancelled', async () => {
    const invoice = await statementFor(app, cara, 35);
    const session = { ...sessionFor({ ...cara, invoice }), id: 'cs_demo_cancelled00000000000', amountCents: 3500 };
    await app.system.update<Invoice>({ ...invoice, status: 'cancelled' });
    const paid = demo.signedEvent(session, 'pay');
    expect(await resultOf(await webhook(paid.body, paid.signature))).toBe('new');
    expect(
      (await app.system.searchResources<PaymentReconciliation>('PaymentReconciliation', { invoice: `Invoice/${invoice.id}` })).map(
        (p) => p.paymentAmount.value,
      ),
    ).toEqual([35]);
    expect((await app.system.read<Invoice>('Invoice', invoice.id!)).status).toBe('cancelled');
    // An event for an Invoice that does not exist is refused, and nothing is written.
    const before = await recorded();
    const stray = demo.signedEvent({ ...session, id: 'cs_demo_stray0000000000000000', invoiceId: 'no-such-invoice' }, 'pay');
    const res = await webhook(stray.body, stray.signature);
    expect([res.status, outcomeText(await res.json())]).toEqual([400, 'The event pays Invoice/no-such-invoice, which does not exist']);
    expect(await recorded()).toEqual(before);
  });

  it('a declined payment is recorded as failed and counts nothing', async () => {
    const invoice = await statementFor(app, cara, 30);
    await billingNoticeJob(deps);
    const session = { ...sessionFor({ ...cara, invoice }), id: 'cs_demo_declined000000000000', amountCents: 3000 };
    const declined = demo.signedEvent(session, 'decline');
    expect(await resultOf(await webhook(declined.body, declined.signature))).toBe('new');
    const [failure] = await app.system.searchResources<PaymentReconciliation>('PaymentReconciliation', {
      invoice: `Invoice/${invoice.id}`,
    });
    expect([failure.outcome, failure.disposition]).toEqual(['error', 'The payment did not go through at Demo processor (no real payment)']);
    expect((await app.system.read<Invoice>('Invoice', invoice.id!)).status).toBe('issued');
    expect(await billingNoticeJob(deps)).toEqual([]);
  });
});

/** What the webhook answered it did with the event. */
async function resultOf(res: Response): Promise<string> {
  return ((await res.json()) as { result: string }).result;
}

/** A demo checkout session for Cara's statement, as $pay would have opened it. */
function sessionFor(cara: { patientId: string; invoice: Invoice }) {
  return {
    id: 'cs_demo_x',
    invoiceId: cara.invoice.id!,
    patientId: cara.patientId,
    amountCents: 2500,
    currency: 'USD',
    description: 'Statement',
    returnUrl: 'http://localhost/billing/checkout-return',
    expiresAt: 4102444800,
  };
}

/** A new issued statement of Cara's for `owed` dollars (one office visit, the plan paid the rest). */
async function statementFor(
  app: AuthTestApp,
  cara: { patientId: string; account: Account; invoice: Invoice },
  owed: number,
): Promise<Invoice> {
  const { resource } = await app.system.create<Invoice>({
    ...cara.invoice,
    id: undefined,
    identifier: [{ system: 'urn:test', value: `INV-TEST-${owed}` }],
    status: 'issued',
    totalPriceComponent: [
      {
        type: 'informational',
        code: { coding: [{ system: 'https://chartkeeper.example/fhir/CodeSystem/billing-component', code: 'patient-responsibility' }] },
        amount: { value: owed, currency: 'USD' },
      },
    ],
    totalNet: { value: owed, currency: 'USD' },
  });
  return resource;
}
