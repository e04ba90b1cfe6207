import { generateSigningKey } from '../../auth/access-token';
import { accountContext } from '../../auth/account-context';
import { agePolicyByName } from '../../access/age-policy-profiles';
import { ConfigError, loadConfig } from '../../config';
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables';
import { FixedClock } from '../../fhir/clock';
import type { Mailer } from '../../mail/mailer';
import { createBillingServices } from './billing-services';

const context = () =>
  accountContext({
    db: {} as Kysely<Tables>,
    clock: new FixedClock(new Date('2026-11-22T18:00:00Z')),
    mailer: {} as Mailer,
    baseUrl: 'http://localhost:8080/',
    timeZone: 'America/Los_Angeles',
    policy: agePolicyByName('westmed'),
    signingKey: generateSigningKey(),
  });

test('Stripe needs both its secret key and its webhook secret; neither is the demo processor', () => {
  expect(() => loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x' })).toThrow(ConfigError);
  expect(() => loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_x' })).toThrow('STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET go together');
  const both = loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_WEBHOOK_SECRET: 'whsec_x' });
  expect([both.stripeSecretKey, both.stripeWebhookSecret]).toEqual(['sk_test_x', 'whsec_x']);
  expect(createBillingServices(context(), { stripe: { secretKey: 'sk_test_x', webhookSecret: 'whsec_x' } }).processor.name).toBe('stripe');
  const demo = createBillingServices(context());
  expect([demo.processor.name, demo.demo?.display]).toEqual(['demo', 'Demo processor (no real payment)']);
});

test('a demo checkout link is good only as signed and until it expires', async () => {
  const ctx = context();
  const { demo } = createBillingServices(ctx);
  const session = await demo!.createCheckout({
    invoiceId: 'inv-1',
    patientId: 'pat-1',
    amountCents: 2500,
    currency: 'USD',
    description: 'Statement',
    returnUrl: 'http://localhost:8080/billing/checkout-return',
  });
  const token = session.url.split('/billing/demo-checkout/')[1];
  expect(demo!.readSession(token)).toMatchObject({ id: session.id, invoiceId: 'inv-1', amountCents: 2500 });
  // Another amount under the same signature, or another service's key, reads as no session.
  const [payload, mac] = token.split('.');
  const other = Buffer.from(Buffer.from(payload, 'base64url').toString().replace('2500', '1')).toString('base64url');
  expect(demo!.readSession(`${other}.${mac}`)).toBeUndefined();
  expect(createBillingServices(context()).demo!.readSession(token)).toBeUndefined();
  (ctx.clock as FixedClock).advance(24 * 3600 * 1000 + 1000);
  expect(demo!.readSession(token)).toBeUndefined();
});
