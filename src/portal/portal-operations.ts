import type { AccountServices } from './account-services';
import { billingOperations } from './billing/billing-operations';
import { acceptPortalConsentOperation } from './enrollment/accept-portal-consent-operation';
import { practiceTokenOperation } from './enrollment/practice-token-operation';
import { unenrollOperation } from './enrollment/unenroll-operation';
import { changeAccessLevelOperation } from './family/change-access-level-operation';
import { enrollOperation } from './enrollment/enroll-operation';
import { familyAccessOperation } from './family/family-access-operation';
import { inviteFamilyOperation } from './family/invite-family-operation';
import { legalAuthorizationOperation } from './family/legal-authorization-operation';
import { redeemPasscodeOperation } from './family/redeem-passcode-operation';
import { requestAccessOperations } from './family/request-access-operation';
import { resetTokenOperation } from './enrollment/reset-token-operation';
import { revokeAccessOperation } from './family/revoke-access-operation';
import type { FhirOperation } from '../fhir/operations/operation';
import { transmitOperation } from './records/transmit-operation';
import { ccdaExportOperation } from './records/ccda-export-operation';
import { docrefOperation } from './records/docref-operation';
import { importCcdaOperation } from './records/import-ccda-operation';
import { immunizationRecordOperation } from './immunizations/immunization-record-operation';
import { portalOptionsOperation } from './requests/portal-options-operation';
import { smartAppsOperations } from './apps/smart-apps-operations';

/**
 * Every portal $operation. The account and family access operations need the account services (mail, signing
 * key), so they are offered when those are given.
 */
export function portalOperations(
  accountServices?: AccountServices,
  limits: { maxXmlBytes?: number; ccdaParseHeapMb?: number; timeZone?: string } = {},
): FhirOperation[] {
  const timeZone = limits.timeZone ?? accountServices?.context.timeZone ?? 'UTC';
  return [
    ccdaExportOperation(timeZone),
    docrefOperation,
    immunizationRecordOperation(timeZone),
    importCcdaOperation(limits.maxXmlBytes ?? 20 * 1024 * 1024, limits.ccdaParseHeapMb),
    portalOptionsOperation,
    ...billingOperations(accountServices?.billing),
    ...(accountServices ? accountOperations(accountServices) : []),
  ];
}

/** The account and family access $operations, and $transmit (it mails), bound to the account services. */
export function accountOperations(services: AccountServices): FhirOperation[] {
  return [
    inviteFamilyOperation(services),
    ...requestAccessOperations(services),
    redeemPasscodeOperation(services),
    familyAccessOperation(services),
    changeAccessLevelOperation(services),
    revokeAccessOperation(services),
    enrollOperation(services),
    legalAuthorizationOperation(services),
    resetTokenOperation(services),
    transmitOperation(services),
    acceptPortalConsentOperation(services),
    practiceTokenOperation(services),
    unenrollOperation(services),
    ...smartAppsOperations(services),
  ];
}
