/**
 * The account flows as one bundle of services over one context, built once at startup (main.ts) or per test,
 * and handed to the /auth router, the account FHIR operations and the jobs.
 */
import type { AccountContext } from '../auth/account-context';
import { type BillingServices, createBillingServices } from './billing/billing-services';
import type { StripeSettings } from './billing/stripe-payment-processor';
import { EnrollmentService } from './enrollment/enrollment-service';
import { FamilyAccessService } from './family/family-access-service';
import { FamilyGrantsService } from './family/family-grants-service';
import { InvitationService } from './family/invitation-service';
import { PasswordResetService } from '../auth/password-reset-service';
import { PortalConsentService } from './enrollment/portal-consent-service';
import { PracticeEnrollmentService } from './enrollment/practice-enrollment-service';
import { RegistrationService } from '../auth/registration-service';
import { SessionService } from '../auth/session-service';

/** Every account service, sharing one context. */
export interface AccountServices {
  readonly context: AccountContext;
  readonly sessions: SessionService;
  readonly registration: RegistrationService;
  readonly familyAccess: FamilyAccessService;
  readonly familyGrants: FamilyGrantsService;
  readonly invitations: InvitationService;
  readonly enrollment: EnrollmentService;
  readonly passwordReset: PasswordResetService;
  /** Online bill pay: the payment processor and its webhook. */
  readonly billing: BillingServices;
  readonly portalConsent: PortalConsentService;
  readonly practices: PracticeEnrollmentService;
}

/** Builds the account services over a context. */
export function createAccountServices(context: AccountContext, options: { stripe?: StripeSettings } = {}): AccountServices {
  const sessions = new SessionService(context);
  return Object.freeze({
    context,
    sessions,
    registration: new RegistrationService(context, sessions),
    familyAccess: new FamilyAccessService(context, sessions),
    familyGrants: new FamilyGrantsService(context),
    invitations: new InvitationService(context, sessions),
    enrollment: new EnrollmentService(context, sessions),
    passwordReset: new PasswordResetService(context, sessions),
    billing: createBillingServices(context, options),
    portalConsent: new PortalConsentService(context),
    practices: new PracticeEnrollmentService(context, sessions),
  });
}
