/**
 * The built-in demo processor, for `npm start` without a Stripe account: its "hosted checkout" is a plain page this
 * service serves (/billing/demo-checkout/...), clearly marked as a demo that takes no card, whose Pay and Decline
 * buttons send Stripe-shaped events signed the way Stripe signs them (the `stripe` package's own test header), which
 * the webhook verifies and records exactly as it would Stripe's. The session lives in its signed link: no table.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import Stripe from 'stripe';
import type { Clock } from '../../fhir/clock';
import type { CheckoutRequest, CheckoutSession, PaymentEvent, PaymentProcessor } from './payment-processor';
import { verifyStripeSignature } from './stripe-payment-processor';

/** How long a demo checkout link stays good. */
const SESSION_SECONDS = 24 * 3600;

/** A demo checkout, as its link carries it. */
export interface DemoSession {
  readonly id: string;
  readonly invoiceId: string;
  readonly patientId: string;
  readonly payerAccountId?: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly description: string;
  readonly returnUrl: string;
  readonly expiresAt: number;
}

/** A signed webhook, as the demo checkout delivers it. */
export interface SignedWebhook {
  readonly body: Buffer;
  readonly signature: string;
}

/** The demo processor; `webhookSecret` signs both its links and its events. */
export class DemoPaymentProcessor implements PaymentProcessor {
  readonly name = 'demo';
  readonly display = 'Demo processor (no real payment)';
  // The package's webhook helpers run locally; this client never calls Stripe.
  private readonly stripe = new Stripe('sk_demo_not_a_stripe_key', { telemetry: false });

  constructor(
    private readonly webhookSecret: string,
    private readonly baseUrl: string,
    private readonly clock: Clock,
  ) {}

  createCheckout(request: CheckoutRequest): Promise<CheckoutSession> {
    const session: DemoSession = {
      id: `cs_demo_${randomBytes(12).toString('hex')}`,
      invoiceId: request.invoiceId,
      patientId: request.patientId,
      ...(request.payerAccountId ? { payerAccountId: request.payerAccountId } : {}),
      amountCents: request.amountCents,
      currency: request.currency,
      description: request.description,
      returnUrl: request.returnUrl,
      expiresAt: Math.floor(this.clock.now().getTime() / 1000) + SESSION_SECONDS,
    };
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return Promise.resolve({ id: session.id, url: `${this.baseUrl}/billing/demo-checkout/${payload}.${this.mac(payload)}` });
  }

  /** The session a demo checkout link carries, when its signature holds and it has not expired. */
  readSession(token: string): DemoSession | undefined {
    const match = /^([A-Za-z0-9_-]{1,4000})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return undefined;
    const expected = Buffer.from(this.mac(match[1]));
    const given = Buffer.from(match[2]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const session = JSON.parse(Buffer.from(match[1], 'base64url').toString('utf8')) as DemoSession;
    return session.expiresAt >= this.clock.now().getTime() / 1000 ? session : undefined;
  }

  /** The event the demo checkout sends when the payer pays (a completed, paid session) or declines (a failed one). */
  signedEvent(session: DemoSession, outcome: 'pay' | 'decline'): SignedWebhook {
    const paid = outcome === 'pay';
    const metadata = {
      invoice: session.invoiceId,
      patient: session.patientId,
      ...(session.payerAccountId ? { payer: session.payerAccountId } : {}),
    };
    const created = Math.floor(this.clock.now().getTime() / 1000);
    const event = {
      id: `evt_${session.id.replace(/^cs_/, '')}_${paid ? 'paid' : 'failed'}`,
      object: 'event',
      type: paid ? 'checkout.session.completed' : 'checkout.session.async_payment_failed',
      created,
      livemode: false,
      data: {
        object: {
          id: session.id,
          object: 'checkout.session',
          mode: 'payment',
          payment_status: paid ? 'paid' : 'unpaid',
          amount_total: session.amountCents,
          currency: session.currency.toLowerCase(),
          payment_intent: session.id.replace(/^cs_/, 'pi_'),
          client_reference_id: session.invoiceId,
          metadata,
          // The demo's test card; Stripe's session carries no card digits, so its receipts name none.
          card_last4: '4242',
        },
      },
    };
    return this.sign(event);
  }

  /** Any event signed as this processor signs (tests send refunds and replays through it). */
  sign(event: object): SignedWebhook {
    const body = JSON.stringify(event);
    const timestamp = Math.floor(this.clock.now().getTime() / 1000);
    return {
      body: Buffer.from(body),
      signature: this.stripe.webhooks.generateTestHeaderString({ payload: body, secret: this.webhookSecret, timestamp }),
    };
  }

  verifyWebhook(rawBody: Buffer, signature: string | undefined): PaymentEvent {
    return verifyStripeSignature(this.stripe, rawBody, signature, this.webhookSecret, this.clock);
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.webhookSecret).update(`demo-checkout.${payload}`).digest('base64url');
  }
}
