import type { FhirOperation } from './operation';
import { patientEverythingOperation } from './patient-everything-operation';

/** Every $operation the server offers; the CapabilityStatement lists exactly these. */
export function allOperations(): FhirOperation[] {
  return [patientEverythingOperation];
}
