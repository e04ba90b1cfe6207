import { isSupportedType } from '../definitions';
import { badRequest } from '../outcomes';
import type { FhirOperation } from './operation';
import { patientEverything } from './patient-everything';

/** Patient/{id}/$everything with start, end, _since and _type (comma-separated resource types). */
export const patientEverythingOperation: FhirOperation = {
  info: { name: 'everything', resourceType: 'Patient', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
  level: 'instance',
  methods: ['GET', 'POST'],
  repeatable: ['_type'],
  async handle({ repo, id, params }) {
    const types = params._type === undefined ? undefined : typesOf(params._type);
    const bundle = await patientEverything(repo, id as string, { start: params.start, end: params.end, since: params._since, types });
    return { kind: 'resource', resource: bundle };
  },
};

/** At most this many types in _type: there are fewer than 150 resource types in R4. */
const MAX_TYPES = 150;

function typesOf(value: string): string[] {
  const types = value.split(',').map((t) => t.trim());
  if (types.length > MAX_TYPES) throw badRequest(`_type names at most ${MAX_TYPES} resource types`, '_type');
  for (const type of types)
    if (!isSupportedType(type)) throw badRequest(`_type: unsupported resource type "${type.slice(0, 64)}"`, '_type');
  return types;
}
