/** To the patient: someone asked for family access; the passcode is theirs to give or withhold. */
import { formatInstant, type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the passcode email. */
export interface FamilyAccessPasscodeEmailParams {
  readonly organizationName: string;
  /** The requester's name as they typed it. */
  readonly requesterName: string;
  readonly passcode: string;
  readonly expiresAt: Date;
  readonly timeZone: string;
  /** Where the patient reviews family access (to refuse or revoke later). */
  readonly familyAccessUrl: string;
}

/**
 * The temporary passcode email. It goes to the patient, never to the requester: handing the passcode over is
 * the patient's consent (Westmed guide, "Family Access").
 */
export function familyAccessPasscodeEmail(params: FamilyAccessPasscodeEmailParams): RenderedEmail {
  return renderEmail({
    organizationName: params.organizationName,
    subject: `${params.organizationName}: ${params.requesterName} asked for access to your portal account`,
    paragraphs: [
      `${params.requesterName} has asked for family access to your ${params.organizationName} patient portal account.`,
      'If you agree, give them this temporary passcode. By giving it to them you consent to their access. ' +
        'If you do not know this person or do not agree, do not share it: nobody gets access without it.',
    ],
    code: params.passcode,
    closing: [
      `The passcode works once and expires ${formatInstant(params.expiresAt, params.timeZone)}.`,
      `You can see, change or remove family access at any time: ${params.familyAccessUrl}`,
    ],
  });
}
