import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { SERVICE_ONLY_TYPES } from '../access/write-policy';
import { SUPPORTED_TYPES, searchParametersOf } from './definitions';
import { CATALOG_TYPES } from './terminology-catalog';
import { US_CORE_VERSION, usCoreProfilesOf } from './us-core-profiles';

/** An operation the server implements, as the CapabilityStatement lists it. */
export interface OperationInfo {
  readonly name: string;
  readonly definition: string;
  /** Resource type it runs on, or undefined for system-level operations. */
  readonly resourceType?: string;
}

/** The search parameters every type takes besides its own. */
const COMMON_SEARCH = ['_count', '_offset', '_sort', '_include', '_revinclude', '_elements', '_summary', '_total'];

/** What the API does with a type: everything, but only reading what the service alone writes (AuditEvent). */
function interactionsOf(type: string): string[] {
  const reads = ['read', 'vread', 'history-instance', 'history-type', 'search-type'];
  return SERVICE_ONLY_TYPES.has(type) ? reads : [...reads, 'create', 'update', 'delete'];
}

/** Builds the CapabilityStatement: exactly the types, interactions, search parameters and operations that work. */
export function buildCapabilityStatement(baseUrl: string, operations: readonly OperationInfo[], version: string): CapabilityStatement {
  const resources = SUPPORTED_TYPES.map((type) => ({
    type,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    // The US Core profiles a resource of this type may claim; a claim is validated on write (us-core-profiles.ts).
    ...(usCoreProfilesOf(type).length ? { supportedProfile: usCoreProfilesOf(type) } : {}),
    interaction: interactionsOf(type).map((code) => ({ code: code as 'read' })),
    versioning: 'versioned',
    readHistory: true,
    updateCreate: !SERVICE_ONLY_TYPES.has(type),
    conditionalCreate: !SERVICE_ONLY_TYPES.has(type),
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchInclude: Object.entries(searchParametersOf(type))
      .filter(([, p]) => p.type === 'reference')
      .map(([code]) => `${type}:${code}`),
    searchParam: Object.entries(searchParametersOf(type)).map(([code, param]) => ({
      name: code,
      definition: param.url,
      type: param.type,
    })),
    // An operation offered at both type and instance level is listed once.
    operation: [...new Map(operations.filter((op) => op.resourceType === type).map((op) => [op.name, op])).values()].map((op) => ({
      name: op.name,
      definition: op.definition,
    })),
  })) as CapabilityStatementRestResource[];
  // The service's own terminology (fhir-profiles/): read and searched, never written through the API.
  for (const type of CATALOG_TYPES) {
    resources.push({
      type: type as 'ValueSet',
      interaction: ['read', 'vread', 'history-instance', 'history-type', 'search-type'].map((code) => ({ code: code as 'read' })),
      versioning: 'versioned',
      searchParam: ['_id', 'url', 'name', 'title', 'status'].map((name) => ({
        name,
        type: name === '_id' || name === 'status' ? 'token' : name === 'url' ? 'uri' : 'string',
      })),
      operation: [...new Map(operations.filter((op) => op.resourceType === type).map((op) => [op.name, op])).values()].map((op) => ({
        name: op.name,
        definition: op.definition,
      })),
    });
  }
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString().slice(0, 10),
    kind: 'instance',
    instantiates: [`http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server|${US_CORE_VERSION}`],
    software: { name: 'Chartkeeper', version },
    implementation: { description: 'Chartkeeper FHIR R4 server', url: `${baseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: true,
          // SMART App Launch 2.0: where apps authorize and get tokens (also at /.well-known/smart-configuration).
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'authorize', valueUri: `${baseUrl}/oauth/auth` },
                { url: 'token', valueUri: `${baseUrl}/oauth/token` },
                { url: 'revoke', valueUri: `${baseUrl}/oauth/token/revocation` },
              ],
            },
          ],
          service: [
            {
              coding: [
                { system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' },
                { system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth' },
              ],
            },
          ],
          description:
            'SMART on FHIR (App Launch 2.0, see /.well-known/smart-configuration): access tokens from /oauth narrowed by their scopes; ' +
            'or a bearer JWT from /auth/login. Every call except metadata and SMART discovery needs one.',
        },
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        searchParam: COMMON_SEARCH.map((name) => ({ name, type: name === '_count' || name === '_offset' ? 'number' : 'string' })),
        operation: operations.filter((op) => !op.resourceType).map((op) => ({ name: op.name, definition: op.definition })),
      },
    ],
  };
}
