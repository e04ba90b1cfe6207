/**
 * The Stripe adapter, on the official `stripe` package: a Checkout Session per payment (Stripe's hosted page takes the
 * card), and webhooks verified with the package's own signature check (HMAC-SHA256 over the timestamp and body, with
 * a timestamp tolerance against replays). Configured by STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.
 */
import Stripe from 'stripe';
import type { Clock } from '../../fhir/clock';
import { badRequest } from '../../fhir/outcomes';
import type { CheckoutRequest, CheckoutSession, PaymentEvent, PaymentProcessor } from './payment-processor';
import { paymentEventFromStripe, type StripeEventLike } from './stripe-events';

/** Seconds a webhook's signed timestamp may lie from now (Stripe's default). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** How to reach Stripe; host, port and protocol point the package elsewhere (a local stand-in in tests). */
export interface StripeSettings {
  readonly secretKey: string;
  readonly webhookSecret: string;
  readonly host?: string;
  readonly port?: number;
  readonly protocol?: 'http' | 'https';
  /** Milliseconds to wait for Stripe's answer. */
  readonly timeoutMs?: number;
}

/** Verifies a Stripe-signed webhook with the package's own check; the demo processor signs the same way. */
export function verifyStripeSignature(
  stripe: Stripe,
  rawBody: Buffer,
  signature: string | undefined,
  secret: string,
  clock: Clock,
): PaymentEvent {
  if (!signature) throw badRequest('The webhook has no Stripe-Signature header');
  let event: StripeEventLike;
  try {
    event = stripe.webhooks.constructEvent(
      rawBody,
      signature,
      secret,
      WEBHOOK_TOLERANCE_SECONDS,
      undefined,
      clock.now().getTime(),
    ) as unknown as StripeEventLike;
  } catch (err) {
    throw badRequest(`The webhook's signature does not verify: ${(err as Error).message}`);
  }
  return paymentEventFromStripe(event);
}

/** Payments through Stripe Checkout. */
export class StripePaymentProcessor implements PaymentProcessor {
  readonly name = 'stripe';
  readonly display = 'Stripe';
  private readonly stripe: Stripe;

  constructor(
    private readonly settings: StripeSettings,
    private readonly clock: Clock,
  ) {
    this.stripe = new Stripe(settings.secretKey, {
      ...(settings.host ? { host: settings.host } : {}),
      ...(settings.port ? { port: settings.port } : {}),
      ...(settings.protocol ? { protocol: settings.protocol } : {}),
      timeout: settings.timeoutMs ?? 20_000,
      maxNetworkRetries: 1,
      telemetry: false,
    });
  }

  /** A Checkout Session for one payment of the amount; the metadata names the invoice on every event that follows. */
  async createCheckout(request: CheckoutRequest): Promise<CheckoutSession> {
    const metadata = {
      invoice: request.invoiceId,
      patient: request.patientId,
      ...(request.payerAccountId ? { payer: request.payerAccountId } : {}),
    };
    const session = await this.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: request.currency.toLowerCase(),
              unit_amount: request.amountCents,
              product_data: { name: request.description },
            },
          },
        ],
        client_reference_id: request.invoiceId,
        metadata,
        payment_intent_data: { metadata },
        success_url: `${request.returnUrl}${request.returnUrl.includes('?') ? '&' : '?'}checkout=success`,
        cancel_url: `${request.returnUrl}${request.returnUrl.includes('?') ? '&' : '?'}checkout=cancelled`,
      },
      // One session per request even if the call is retried after a lost answer.
      { idempotencyKey: `checkout-${request.invoiceId}-${request.amountCents}-${this.clock.now().getTime()}` },
    );
    if (!session.url) throw new Error('Stripe answered a Checkout Session without a URL');
    return { id: session.id, url: session.url };
  }

  verifyWebhook(rawBody: Buffer, signature: string | undefined): PaymentEvent {
    return verifyStripeSignature(this.stripe, rawBody, signature, this.settings.webhookSecret, this.clock);
  }
}
