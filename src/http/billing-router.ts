/**
 * /billing: the payment processor's webhook, and the demo processor's checkout page. The webhook is signed by the
 * processor instead of carrying a token; the rules (signature, idempotency, recording) live in the billing services.
 */
import express, { type Response, Router } from 'express';
import type { BillingServices } from '../portal/billing/billing-services';
import { badRequest, notFound } from '../fhir/outcomes';
import { asyncHandler } from './async-handler';

/** A processor event is a few kilobytes; Stripe's largest are far below this. */
const WEBHOOK_LIMIT = '256kb';

/** The demo pages style themselves inline and post their one form back here; they load nothing else. */
const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Builds the /billing router over the billing services. */
export function billingRouter(billing: BillingServices): Router {
  const router = Router();

  router.post(
    '/webhook',
    express.raw({ type: () => true, limit: WEBHOOK_LIMIT }),
    asyncHandler(async (req, res) => {
      if (!Buffer.isBuffer(req.body) || !req.body.length) throw badRequest('The webhook has no body');
      const signature = req.headers['stripe-signature'];
      const recorded = await billing.receiveWebhook(req.body, typeof signature === 'string' ? signature : undefined);
      res.json({ received: true, result: recorded.result });
    }),
  );

  router.get('/demo-checkout/:token', (req, res, next) => {
    const session = billing.demo?.readSession(req.params.token);
    if (!session) return next(notFound('Demo checkout (the link is not valid or has expired)'));
    page(
      res,
      'Demo checkout',
      `
      <p class="demo">DEMO PAYMENT PROCESSOR: no card is taken and no money moves. Do not enter card details anywhere on this page.</p>
      <h1>Pay your statement</h1>
      <p>${escapeHtml(session.description)}</p>
      <p class="amount">${escapeHtml(formatAmount(session.amountCents, session.currency))}</p>
      <form method="post">
        <button name="outcome" value="pay">Pay (demo)</button>
        <button name="outcome" value="decline">Decline (demo)</button>
      </form>`,
    );
  });

  router.post(
    '/demo-checkout/:token',
    express.urlencoded({ extended: false, limit: '1kb' }),
    asyncHandler(async (req, res) => {
      const demo = billing.demo;
      const session = demo?.readSession(req.params.token);
      if (!demo || !session) throw notFound('Demo checkout (the link is not valid or has expired)');
      const outcome = (req.body as { outcome?: unknown } | undefined)?.outcome;
      if (outcome !== 'pay' && outcome !== 'decline') throw badRequest('outcome must be pay or decline', 'outcome');
      // Signed and verified exactly as a Stripe event is: the demo exercises the real webhook path.
      const event = demo.signedEvent(session, outcome);
      await billing.receiveWebhook(event.body, event.signature);
      const url = new URL(session.returnUrl);
      url.searchParams.set('checkout', outcome === 'pay' ? 'success' : 'declined');
      res.redirect(303, url.toString());
    }),
  );

  router.get('/checkout-return', (req, res) => {
    const outcome = req.query.checkout;
    const text =
      outcome === 'success'
        ? 'Thank you: your payment was received. A receipt is on its way to your email, and your balance shows it once the payment is recorded.'
        : outcome === 'declined'
          ? 'The payment did not go through. Nothing was charged; you can try again from your statement.'
          : 'The payment was not completed. Nothing was charged; you can try again from your statement.';
    page(res, 'Payment', `<h1>Payment</h1><p>${escapeHtml(text)}</p><p>You can close this page.</p>`);
  });

  return router;
}

function page(res: Response, title: string, body: string): void {
  res.setHeader('Content-Security-Policy', PAGE_POLICY);
  res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}.demo{background:#fff3cd;border:2px solid #c90;padding:.8em;font-weight:bold}.amount{font-size:1.6em}button{font-size:1.1em;margin-right:1em}</style>
</head><body>${body}</body></html>`);
}

function formatAmount(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
