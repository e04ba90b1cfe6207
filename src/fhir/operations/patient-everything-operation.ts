import type { FhirOperation } from './operation';
import { patientEverything } from './patient-everything';

/** Patient/{id}/$everything with start, end and _since. */
export const patientEverythingOperation: FhirOperation = {
  info: { name: 'everything', resourceType: 'Patient', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
  level: 'instance',
  methods: ['GET', 'POST'],
  async handle({ repo, id, params }) {
    const bundle = await patientEverything(repo, id as string, { start: params.start, end: params.end, since: params._since });
    return { kind: 'resource', resource: bundle };
  },
};
