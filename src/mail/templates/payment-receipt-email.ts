/** The receipt after an online payment: amount, date, and the card's last four digits when the processor gave them. */
import { type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the receipt. Nothing about the visit or the patient's health. */
export interface PaymentReceiptEmailParams {
  readonly organizationName: string;
  /** "$25.00". */
  readonly amount: string;
  /** "November 22, 2026". */
  readonly date: string;
  readonly statementNumber: string;
  readonly cardLast4?: string;
  readonly statementsUrl: string;
}

/** The payment receipt. */
export function paymentReceiptEmail(params: PaymentReceiptEmailParams): RenderedEmail {
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Your payment to ${params.organizationName} was received`,
    paragraphs: [
      `Thank you. We received your payment of ${params.amount} on ${params.date} for statement ${params.statementNumber}${params.cardLast4 ? `, paid with the card ending in ${params.cardLast4}` : ''}.`,
      'Keep this email as your receipt. Your balance in the patient portal shows the payment.',
    ],
    action: { label: 'View statements', url: params.statementsUrl },
  });
}
