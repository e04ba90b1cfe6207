import type { FhirOperation } from '../../fhir/operations/operation';
import { accountBalanceOperation, patientBalanceOperation } from './balance-operation';
import type { BillingServices } from './billing-services';
import { payOperation } from './pay-operation';
import { statementOperation } from './statement-operation';

/** The billing $operations: balances and statements always; $pay over the configured processor. */
export function billingOperations(billing?: BillingServices): FhirOperation[] {
  return [accountBalanceOperation, patientBalanceOperation, statementOperation, ...(billing ? [payOperation(billing)] : [])];
}
