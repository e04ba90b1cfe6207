/**
 * The payment processor behind online bill pay, as the service sees it: a hosted checkout page for an amount, and
 * the signed events it sends back. Card data goes to the processor's page and never through this service (PCI DSS
 * SAQ-A); only a verified event records money. Two implementations: Stripe (stripe-payment-processor.ts), and a
 * built-in demo processor that needs no account (demo-payment-processor.ts).
 */

/** What a checkout is for. */
export interface CheckoutRequest {
  readonly invoiceId: string;
  readonly patientId: string;
  /** The portal account paying (for the receipt), when a portal user pays. */
  readonly payerAccountId?: string;
  readonly amountCents: number;
  /** ISO 4217, upper case (USD). */
  readonly currency: string;
  /** What the payer sees on the processor's page: the practice and the statement number, nothing clinical. */
  readonly description: string;
  /** Where the processor sends the payer back to. */
  readonly returnUrl: string;
}

/** A hosted checkout the payer is sent to. */
export interface CheckoutSession {
  readonly id: string;
  readonly url: string;
}

/**
 * A verified processor event, in the service's terms:
 * - `paid`: money received for an invoice (once per `paymentId`, however many events say so);
 * - `failed`: a payment attempt that did not go through (recorded, counts nothing);
 * - `refunded`: money given back on an earlier payment (`paymentId`);
 * - `ignored`: an event that moves no money (a session expired, a payment still pending).
 */
export interface PaymentEvent {
  readonly id: string;
  /** The processor's own event type, kept with the event id. */
  readonly type: string;
  readonly kind: 'paid' | 'failed' | 'refunded' | 'ignored';
  readonly invoiceId?: string;
  readonly patientId?: string;
  readonly payerAccountId?: string;
  /** The processor's id of the payment (Stripe: the PaymentIntent). */
  readonly paymentId?: string;
  /** The processor's id of a refund. */
  readonly refundId?: string;
  readonly amountCents?: number;
  readonly currency?: string;
  readonly occurredAt: Date;
  /** The card's last four digits, when the processor gives them. */
  readonly cardLast4?: string;
}

/** A payment processor: hosted checkout out, signed events in. */
export interface PaymentProcessor {
  /** Short name, kept with each event id (`stripe`, `demo`). */
  readonly name: string;
  /** Shown to people: "Stripe", "Demo processor (no real payment)". */
  readonly display: string;
  /** Creates a hosted checkout for the amount and answers where to send the payer. */
  createCheckout(request: CheckoutRequest): Promise<CheckoutSession>;
  /** Verifies a webhook's signature and timestamp and reads its event; throws a 400 FhirError when they fail. */
  verifyWebhook(rawBody: Buffer, signature: string | undefined): PaymentEvent;
}
