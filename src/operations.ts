import { genericOperations } from './fhir/operations/registry';
import type { FhirOperation } from './fhir/operations/operation';
import type { AccountServices } from './portal/account-services';
import { portalOperations } from './portal/portal-operations';

/** Every $operation the server offers: the resource layer's own and the portal's, which register into it. */
export function allOperations(
  accountServices?: AccountServices,
  limits: { maxXmlBytes?: number; ccdaParseHeapMb?: number; timeZone?: string } = {},
): FhirOperation[] {
  return [...genericOperations(), ...portalOperations(accountServices, limits)];
}
