/**
 * Account/{id}/$balance and Patient/{id}/$balance: what the patient owes now, per Account, from the issued Invoices
 * and the payments recorded against them. Whoever sees the Account sees its balance: the patient, family members at
 * billing or full level, staff. It is in the patient's activity history.
 */
import type { Account, Parameters, Patient } from '@medplum/fhirtypes';
import { badRequest } from '../../fhir/outcomes';
import type { FhirOperation, OperationContext } from '../../fhir/operations/operation';
import { balanceOfAccount, balanceParameters } from './statement-balance';

const DEFINITION = 'https://chartkeeper.dev/fhir/OperationDefinition/balance';

function refuseParameters(params: OperationContext['params']): void {
  const unknown = Object.keys(params).filter((name) => name !== '_format');
  if (unknown.length) throw badRequest(`$balance takes no parameters (got ${unknown.join(', ')})`, unknown[0]);
}

/** Account/{id}/$balance. */
export const accountBalanceOperation: FhirOperation = {
  info: { name: 'balance', resourceType: 'Account', definition: DEFINITION },
  level: 'instance',
  methods: ['GET'],
  async handle({ repo, id, params }) {
    refuseParameters(params);
    const parameter = await repo.asOperation('$balance', async () =>
      balanceParameters(await balanceOfAccount(repo, await repo.read<Account>('Account', id as string))),
    );
    const resource: Parameters = { resourceType: 'Parameters', parameter };
    return { kind: 'resource', resource };
  },
};

/** Patient/{id}/$balance: one `account` part per Account of the patient, with its balance. */
export const patientBalanceOperation: FhirOperation = {
  info: { name: 'balance', resourceType: 'Patient', definition: DEFINITION },
  level: 'instance',
  methods: ['GET'],
  async handle({ repo, id, params }) {
    refuseParameters(params);
    const parameter = await repo.asOperation('$balance', async () => {
      const patient = await repo.read<Patient>('Patient', id as string);
      const accounts = await repo.searchResources<Account>('Account', { patient: `Patient/${patient.id}`, _sort: '_id' });
      const out = [];
      for (const account of accounts) out.push({ name: 'account', part: balanceParameters(await balanceOfAccount(repo, account)) });
      return out;
    });
    const resource: Parameters = { resourceType: 'Parameters', parameter };
    return { kind: 'resource', resource };
  },
};
