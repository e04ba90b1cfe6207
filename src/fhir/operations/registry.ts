import { groupExportOperation, patientExportOperation, systemExportOperation } from './bulk-export-operation';
import type { FhirOperation } from './operation';
import { patientEverythingOperation } from './patient-everything-operation';
import { valueSetExpandOperation, valueSetInstanceExpandOperation } from './value-set-expand-operation';

/**
 * The generic $operations of the resource layer. The features above it (the portal) bring their own, and the
 * composition root (src/operations.ts) hands the union to the router; the CapabilityStatement lists exactly those.
 */
export function genericOperations(): FhirOperation[] {
  return [
    patientEverythingOperation,
    valueSetExpandOperation,
    valueSetInstanceExpandOperation,
    systemExportOperation,
    patientExportOperation,
    groupExportOperation,
  ];
}
