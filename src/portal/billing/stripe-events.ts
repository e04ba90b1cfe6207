/**
 * Stripe events as PaymentEvents. The service asks Stripe for Checkout Sessions carrying the invoice, patient and
 * payer in `metadata` (on the session and on its PaymentIntent), so each event names what it pays:
 * - `checkout.session.completed` with `payment_status: paid`, and `checkout.session.async_payment_succeeded`: paid;
 * - `checkout.session.async_payment_failed`: failed;
 * - `refund.created` (not failed or canceled): refunded, on the refund's PaymentIntent;
 * - anything else (a session completed but still unpaid, expired, ...): ignored.
 * The demo processor sends the same events, so one reading serves both.
 */
import { badRequest } from '../../fhir/outcomes';
import type { PaymentEvent } from './payment-processor';

/** A verified Stripe event, as much of it as this service reads. */
export interface StripeEventLike {
  readonly id: string;
  readonly type: string;
  readonly created: number;
  readonly data: { readonly object: Record<string, unknown> };
}

const ID = /^[A-Za-z0-9_\-.:]{1,255}$/;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 255 ? value : undefined;
}

function idOf(value: unknown): string | undefined {
  // An expanded object ({id: ...}) or its id.
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : value;
  return typeof id === 'string' && ID.test(id) ? id : undefined;
}

function amountOf(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw badRequest(`The event's ${where} is not an amount in cents`);
  return value;
}

function metadataOf(object: Record<string, unknown>): { invoiceId?: string; patientId?: string; payerAccountId?: string } {
  const metadata = (typeof object.metadata === 'object' && object.metadata !== null ? object.metadata : {}) as Record<string, unknown>;
  return { invoiceId: idOf(metadata.invoice), patientId: idOf(metadata.patient), payerAccountId: idOf(metadata.payer) };
}

/** Reads a verified Stripe event; 400 when an event that moves money lacks what it needs. */
export function paymentEventFromStripe(event: StripeEventLike): PaymentEvent {
  if (!ID.test(event.id ?? '') || typeof event.type !== 'string') throw badRequest('The event has no id or type');
  const object = event.data?.object ?? {};
  const base = { id: event.id, type: event.type, occurredAt: new Date((Number(event.created) || 0) * 1000) };
  const session = (kind: 'paid' | 'failed'): PaymentEvent => {
    const meta = metadataOf(object);
    if (!meta.invoiceId || !meta.patientId) throw badRequest(`The ${event.type} event names no invoice and patient in its metadata`);
    const paymentId = idOf(object.payment_intent) ?? idOf(object.id);
    if (!paymentId) throw badRequest(`The ${event.type} event names no payment`);
    const currency = text(object.currency)?.toUpperCase();
    if (!currency) throw badRequest(`The ${event.type} event has no currency`);
    const cardLast4 = text((object as { card_last4?: unknown }).card_last4);
    return {
      ...base,
      kind,
      ...meta,
      paymentId,
      amountCents: amountOf(object.amount_total, 'amount_total'),
      currency,
      ...(cardLast4 && /^\d{4}$/.test(cardLast4) ? { cardLast4 } : {}),
    };
  };
  switch (event.type) {
    case 'checkout.session.completed':
      return object.payment_status === 'paid' ? session('paid') : { ...base, kind: 'ignored' };
    case 'checkout.session.async_payment_succeeded':
      return session('paid');
    case 'checkout.session.async_payment_failed':
      return session('failed');
    case 'refund.created': {
      if (object.status === 'failed' || object.status === 'canceled') return { ...base, kind: 'ignored' };
      const paymentId = idOf(object.payment_intent);
      const refundId = idOf(object.id);
      const currency = text(object.currency)?.toUpperCase();
      if (!paymentId || !refundId || !currency) throw badRequest('The refund.created event names no refund, payment or currency');
      return {
        ...base,
        kind: 'refunded',
        ...metadataOf(object),
        paymentId,
        refundId,
        amountCents: amountOf(object.amount, 'amount'),
        currency,
      };
    }
    default:
      return { ...base, kind: 'ignored' };
  }
}
