/**
 * Online bill pay, wired once per service: the payment processor (Stripe when STRIPE_SECRET_KEY and
 * STRIPE_WEBHOOK_SECRET are set, else the built-in demo processor) and the recorder its webhooks feed.
 */
import { createHmac } from 'node:crypto';
import type { AccountContext } from '../../auth/account-context';
import { DemoPaymentProcessor } from './demo-payment-processor';
import type { PaymentProcessor } from './payment-processor';
import { PaymentRecorder, type RecordedEvent } from './payment-recorder';
import { StripePaymentProcessor, type StripeSettings } from './stripe-payment-processor';

/** The billing side of the service. */
export interface BillingServices {
  readonly processor: PaymentProcessor;
  /** The demo processor, when it is the one in use (its checkout page is served by the billing router). */
  readonly demo?: DemoPaymentProcessor;
  /** Public base URL, for the return page after checkout. */
  readonly baseUrl: string;
  /** Verifies one webhook (400 on a bad signature or a stale timestamp, nothing written) and records its event. */
  receiveWebhook(rawBody: Buffer, signature: string | undefined): Promise<RecordedEvent>;
}

/** Builds the billing services over the account context; `processor` replaces the configured one (tests). */
export function createBillingServices(
  context: AccountContext,
  options: { stripe?: StripeSettings; processor?: PaymentProcessor } = {},
): BillingServices {
  const demo =
    options.processor || options.stripe ? undefined : new DemoPaymentProcessor(demoWebhookSecret(context), context.baseUrl, context.clock);
  const processor: PaymentProcessor =
    options.processor ?? (options.stripe ? new StripePaymentProcessor(options.stripe, context.clock) : demo!);
  const recorder = new PaymentRecorder(context.db, context.clock, `${context.baseUrl}/fhir`, processor);
  return Object.freeze({
    processor,
    ...(demo ? { demo } : {}),
    baseUrl: context.baseUrl,
    receiveWebhook: (rawBody: Buffer, signature: string | undefined) => recorder.record(processor.verifyWebhook(rawBody, signature)),
  });
}

/** The demo processor's webhook secret, derived from the token signing key so every instance agrees on it. */
function demoWebhookSecret(context: AccountContext): string {
  const key = context.signingKey.key.export();
  return `whsec_${createHmac('sha256', key).update('chartkeeper demo payment processor').digest('base64')}`;
}
