import type { AccountServices } from '../../auth/account-services';
import { accountOperations } from './account-operations';
import { ccdaExportOperation } from './ccda-export-operation';
import { docrefOperation } from './docref-operation';
import { immunizationRecordOperation } from './immunization-record-operation';
import { importCcdaOperation } from './import-ccda-operation';
import type { FhirOperation } from './operation';
import { patientEverythingOperation } from './patient-everything-operation';

/**
 * Every $operation the server offers; the CapabilityStatement lists exactly these. The account and family
 * access operations need the account services (mail, signing key), so they are offered when those are given.
 */
export function allOperations(accountServices?: AccountServices, limits: { maxXmlBytes?: number; timeZone?: string } = {}): FhirOperation[] {
  const timeZone = limits.timeZone ?? accountServices?.context.timeZone ?? 'UTC';
  return [
    patientEverythingOperation,
    ccdaExportOperation(timeZone),
    docrefOperation,
    immunizationRecordOperation(timeZone),
    importCcdaOperation(limits.maxXmlBytes ?? 20 * 1024 * 1024),
    ...(accountServices ? accountOperations(accountServices) : []),
  ];
}
