/**
 * The Stripe adapter (issue 18, "Proof"): the official `stripe` package pointed at a local HTTP stand-in for Stripe's
 * API (its host/port/protocol options), and webhooks signed by the package's own `generateTestHeaderString`. The real
 * library code runs on both sides; nothing inside the service is mocked.
 */
import type { Account, Invoice, Patient, PaymentReconciliation } from '@medplum/fhirtypes';
import Stripe from 'stripe';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { FhirError } from '../src/fhir/outcomes';
import { billingNoticeJob } from '../src/jobs/billing-notice-job';
import { paymentEventFromStripe } from '../src/portal/billing/stripe-events';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';
import { type StripeStandIn, startStripeStandIn } from './support/stripe-stand-in';
import { appJobDeps } from './support/app-job-deps';

const ADA = DEMO_PEOPLE.ada.email as string;
const WEBHOOK_SECRET = 'whsec_chartkeeper_test_secret';
const stripe = new Stripe('sk_test_signing_only', { telemetry: false });

// Seeding the demo family and signing in on a machine shared with other suites can take more than jest's minute.
jest.setTimeout(180_000);

describe('the Stripe adapter', () => {
  let standIn: StripeStandIn;
  let app: AuthTestApp;
  let ada: { token: string; accountId: string };
  let cara: { patientId: string; invoice: Invoice; account: Account };

  beforeAll(async () => {
    standIn = await startStripeStandIn();
    app = await startAuthTestApp({
      stripe: {
        secretKey: 'sk_test_chartkeeper',
        webhookSecret: WEBHOOK_SECRET,
        host: standIn.host,
        port: standIn.port,
        protocol: 'http',
        timeoutMs: 5000,
      },
    });
    const session = await app.login(ADA, DEMO_PASSWORD);
    ada = { token: session.access_token, accountId: session.account.id };
    const patients = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    const patientId = patients.find((p) => p.name?.[0]?.given?.[0] === 'Cara')!.id!;
    const [invoice] = await app.system.searchResources<Invoice>('Invoice', { patient: `Patient/${patientId}`, status: 'issued' });
    const [account] = await app.system.searchResources<Account>('Account', { patient: `Patient/${patientId}` });
    cara = { patientId, invoice, account };
  });
  afterAll(async () => {
    await app?.close();
    await standIn?.close();
  });

  /** A Stripe event as Stripe sends it, signed by the stripe package with the webhook secret (at the app's time). */
  const signed = (event: object, options: { secret?: string; ageSeconds?: number } = {}) => {
    const body = JSON.stringify(event);
    const timestamp = Math.floor(app.clock.now().getTime() / 1000) - (options.ageSeconds ?? 0);
    return {
      body,
      signature: stripe.webhooks.generateTestHeaderString({ payload: body, secret: options.secret ?? WEBHOOK_SECRET, timestamp }),
    };
  };
  const post = async ({ body, signature }: { body: string; signature: string }) => {
    const res = await fetch(`${app.url}/billing/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
      body,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const sessionEvent = (id: string, type: string, paymentStatus = 'paid', amount = 1000) => ({
    id,
    object: 'event',
    api_version: '2025-10-29.clover',
    type,
    created: Math.floor(app.clock.now().getTime() / 1000),
    livemode: false,
    data: {
      object: {
        id: 'cs_test_standin1',
        object: 'checkout.session',
        mode: 'payment',
        payment_status: paymentStatus,
        status: 'complete',
        amount_total: amount,
        currency: 'usd',
        payment_intent: 'pi_test_1',
        client_reference_id: cara.invoice.id,
        metadata: { invoice: cara.invoice.id, patient: cara.patientId, payer: ada.accountId },
      },
    },
  });
  const balance = async () => {
    const res = await app.call('GET', `/fhir/Account/${cara.account.id}/$balance`, { token: ada.token });
    return res.body.parameter.find((p: any) => p.name === 'balance').valueMoney.value;
  };

  it('$pay creates a Checkout Session through the stripe package: amount, currency, metadata, return URLs, no card data', async () => {
    const res = await app.call('POST', `/fhir/Invoice/${cara.invoice.id}/$pay`, {
      token: ada.token,
      json: { resourceType: 'Parameters', parameter: [{ name: 'amount', valueMoney: { value: 10, currency: 'USD' } }] },
    });
    expect(res.status).toBe(201);
    expect(res.body.parameter.find((p: any) => p.name === 'url').valueUri).toBe('https://checkout.stripe.test/c/pay/cs_test_standin1');
    expect(res.body.parameter.find((p: any) => p.name === 'processor').valueString).toBe('Stripe');
    const [request] = standIn.requests;
    expect([request.method, request.path, request.headers.authorization]).toEqual([
      'POST',
      '/v1/checkout/sessions',
      'Bearer sk_test_chartkeeper',
    ]);
    expect(request.headers['idempotency-key']).toMatch(new RegExp(`^checkout-${cara.invoice.id}-1000-\\d+$`));
    expect(request.form).toEqual({
      mode: 'payment',
      'line_items[0][quantity]': '1',
      'line_items[0][price_data][currency]': 'usd',
      'line_items[0][price_data][unit_amount]': '1000',
      'line_items[0][price_data][product_data][name]': `Westside Family Medicine - statement ${cara.invoice.identifier![0].value}`,
      client_reference_id: cara.invoice.id,
      'metadata[invoice]': cara.invoice.id,
      'metadata[patient]': cara.patientId,
      'metadata[payer]': ada.accountId,
      'payment_intent_data[metadata][invoice]': cara.invoice.id,
      'payment_intent_data[metadata][patient]': cara.patientId,
      'payment_intent_data[metadata][payer]': ada.accountId,
      success_url: `${app.url}/billing/checkout-return?checkout=success`,
      cancel_url: `${app.url}/billing/checkout-return?checkout=cancelled`,
    });
  });

  it('a processor that refuses the session is a 502 naming it', async () => {
    standIn.failNext(401, 'Invalid API Key provided: sk_test_****oper');
    const res = await app.call('POST', `/fhir/Invoice/${cara.invoice.id}/$pay`, {
      token: ada.token,
      json: { resourceType: 'Parameters', parameter: [] },
    });
    expect(res.status).toBe(502);
    expect(outcomeText(res.body)).toBe(
      'The payment processor (Stripe) did not open a checkout: Invalid API Key provided: sk_test_****oper',
    );
  });

  it('a Stripe-signed checkout.session.completed records the payment once; replays, late duplicates and bad signatures record nothing', async () => {
    expect(await balance()).toBe(25);
    const deps = appJobDeps(app);
    // The seeded statements' own notices go first.
    await billingNoticeJob(deps);
    const mails = app.smtp.received.length;
    const completed = signed(sessionEvent('evt_test_completed', 'checkout.session.completed'));
    expect(await post(completed)).toEqual({ status: 200, body: { received: true, result: 'new' } });
    expect(await balance()).toBe(15);
    const [payment] = await app.system.searchResources<PaymentReconciliation>('PaymentReconciliation', {
      identifier: 'https://chartkeeper.example/fhir/payment-processor-id|stripe:pi_test_1',
    });
    expect([payment.paymentAmount.value, payment.disposition, payment.detail![0].request!.reference]).toEqual([
      10,
      'Paid online through Stripe',
      `Invoice/${cara.invoice.id}`,
    ]);

    expect(await post(completed)).toEqual({ status: 200, body: { received: true, result: 'duplicate' } });
    // Stripe also says the same payment succeeded in another event: the payment is on record once.
    expect((await post(signed(sessionEvent('evt_test_async', 'checkout.session.async_payment_succeeded')))).body.result).toBe('ignored');
    expect(
      (await post(signed(sessionEvent('evt_test_other_secret', 'checkout.session.completed'), { secret: 'whsec_someone_else' }))).status,
    ).toBe(400);
    const stale = await post(signed(sessionEvent('evt_test_stale', 'checkout.session.completed'), { ageSeconds: 301 }));
    expect([stale.status, outcomeText(stale.body)]).toEqual([
      400,
      "The webhook's signature does not verify: Timestamp outside the tolerance zone",
    ]);
    expect(await balance()).toBe(15);
    expect(
      (await app.system.searchResources<PaymentReconciliation>('PaymentReconciliation', { invoice: `Invoice/${cara.invoice.id}` })).length,
    ).toBe(1);

    // The receipt goes to the payer, Ada; Stripe's session names no card, so the receipt names none.
    expect((await billingNoticeJob(deps))?.map((n) => [n.kind, n.to])).toEqual([['receipt', ADA]]);
    const receipt = await app.mailTo(ADA, mails);
    expect(receipt.message.text).toContain('We received your payment of $10.00 on');
    expect(receipt.message.text).not.toContain('card ending');
  });

  it('a Stripe refund.created gives the money back on the statement', async () => {
    const refund = signed({
      id: 'evt_test_refund',
      object: 'event',
      type: 'refund.created',
      created: Math.floor(app.clock.now().getTime() / 1000),
      data: {
        object: {
          id: 're_test_1',
          object: 'refund',
          amount: 400,
          currency: 'usd',
          status: 'succeeded',
          payment_intent: 'pi_test_1',
          charge: 'ch_test_1',
        },
      },
    });
    expect((await post(refund)).body.result).toBe('new');
    expect(await balance()).toBe(19);
  });

  it('reads Stripe events: paid, failed, refunded, and the rest ignored; an event that moves money must name what it pays', () => {
    const event = (type: string, object: Record<string, unknown>) => ({ id: 'evt_1', type, created: 1_800_000_000, data: { object } });
    const session = {
      id: 'cs_1',
      payment_intent: 'pi_1',
      amount_total: 2500,
      currency: 'usd',
      payment_status: 'paid',
      metadata: { invoice: 'inv-1', patient: 'pat-1' },
    };
    expect(paymentEventFromStripe(event('checkout.session.completed', session))).toEqual({
      id: 'evt_1',
      type: 'checkout.session.completed',
      kind: 'paid',
      occurredAt: new Date(1_800_000_000_000),
      invoiceId: 'inv-1',
      patientId: 'pat-1',
      paymentId: 'pi_1',
      amountCents: 2500,
      currency: 'USD',
    });
    expect(paymentEventFromStripe(event('checkout.session.completed', { ...session, payment_status: 'unpaid' })).kind).toBe('ignored');
    expect(paymentEventFromStripe(event('checkout.session.async_payment_failed', session)).kind).toBe('failed');
    expect(paymentEventFromStripe(event('checkout.session.expired', session)).kind).toBe('ignored');
    expect(paymentEventFromStripe(event('customer.created', {})).kind).toBe('ignored');
    expect(
      paymentEventFromStripe(
        event('refund.created', { id: 're_1', amount: 100, currency: 'usd', status: 'pending', payment_intent: 'pi_1' }),
      ),
    ).toMatchObject({ kind: 'refunded', refundId: 're_1', paymentId: 'pi_1', amountCents: 100 });
    expect(
      paymentEventFromStripe(
        event('refund.created', { id: 're_1', amount: 100, currency: 'usd', status: 'failed', payment_intent: 'pi_1' }),
      ).kind,
    ).toBe('ignored');
    expect(() => paymentEventFromStripe(event('checkout.session.completed', { ...session, metadata: {} }))).toThrow(FhirError);
    expect(() => paymentEventFromStripe(event('checkout.session.completed', { ...session, amount_total: -1 }))).toThrow(
      'not an amount in cents',
    );
  });
});
