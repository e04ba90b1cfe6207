import type { AccountServices } from '../../auth/account-services';
import { changeAccessLevelOperation } from './change-access-level-operation';
import { enrollOperation } from './enroll-operation';
import { familyAccessOperation } from './family-access-operation';
import { inviteFamilyOperation } from './invite-family-operation';
import { legalAuthorizationOperation } from './legal-authorization-operation';
import { redeemPasscodeOperation } from './redeem-passcode-operation';
import { requestAccessOperations } from './request-access-operation';
import { resetTokenOperation } from './reset-token-operation';
import { revokeAccessOperation } from './revoke-access-operation';
import type { FhirOperation } from './operation';
import { transmitOperation } from './transmit-operation';

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
  ];
}
