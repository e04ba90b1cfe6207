/**
 * Code systems as C-CDA names them (OIDs) and as FHIR names them (URIs).
 * One table, read both ways, so render and parse can never disagree.
 */
export interface CodeSystem {
  readonly oid: string;
  readonly uri: string;
  readonly name: string;
}

/** The code systems Chartkeeper writes and reads. */
export const CODE_SYSTEMS: readonly CodeSystem[] = Object.freeze([
  { oid: '2.16.840.1.113883.6.96', uri: 'http://snomed.info/sct', name: 'SNOMED CT' },
  { oid: '2.16.840.1.113883.6.1', uri: 'http://loinc.org', name: 'LOINC' },
  { oid: '2.16.840.1.113883.6.88', uri: 'http://www.nlm.nih.gov/research/umls/rxnorm', name: 'RxNorm' },
  { oid: '2.16.840.1.113883.12.292', uri: 'http://hl7.org/fhir/sid/cvx', name: 'CVX' },
  { oid: '2.16.840.1.113883.6.90', uri: 'http://hl7.org/fhir/sid/icd-10-cm', name: 'ICD-10-CM' },
  { oid: '2.16.840.1.113883.6.103', uri: 'http://hl7.org/fhir/sid/icd-9-cm', name: 'ICD-9-CM' },
  { oid: '2.16.840.1.113883.6.12', uri: 'http://www.ama-assn.org/go/cpt', name: 'CPT-4' },
  { oid: '2.16.840.1.113883.6.285', uri: 'urn:oid:2.16.840.1.113883.6.285', name: 'HCPCS' },
  { oid: '2.16.840.1.113883.6.69', uri: 'http://hl7.org/fhir/sid/ndc', name: 'NDC' },
  { oid: '2.16.840.1.113883.6.8', uri: 'http://unitsofmeasure.org', name: 'UCUM' },
  { oid: '2.16.840.1.113883.4.9', uri: 'http://fdasis.nlm.nih.gov', name: 'UNII' },
  { oid: '2.16.840.1.113883.6.238', uri: 'urn:oid:2.16.840.1.113883.6.238', name: 'CDC Race and Ethnicity' },
  { oid: '2.16.840.1.113883.5.1', uri: 'http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender', name: 'AdministrativeGender' },
  { oid: '2.16.840.1.113883.5.4', uri: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', name: 'ActCode' },
  { oid: '2.16.840.1.113883.5.6', uri: 'http://terminology.hl7.org/CodeSystem/v3-ActClass', name: 'ActClass' },
  {
    oid: '2.16.840.1.113883.5.83',
    uri: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
    name: 'ObservationInterpretation',
  },
  { oid: '2.16.840.1.113883.5.111', uri: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', name: 'RoleCode' },
  { oid: '2.16.840.1.113883.5.112', uri: 'http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', name: 'RouteOfAdministration' },
  { oid: '2.16.840.1.113883.3.26.1.1', uri: 'http://ncimeta.nci.nih.gov', name: 'NCI Thesaurus' },
  { oid: '2.16.840.1.113883.5.25', uri: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', name: 'Confidentiality' },
  { oid: '2.16.840.1.113883.5.60', uri: 'http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityMode', name: 'LanguageAbilityMode' },
  { oid: '2.16.840.1.113883.5.2', uri: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', name: 'MaritalStatus' },
  { oid: '2.16.840.1.113883.6.101', uri: 'http://nucc.org/provider-taxonomy', name: 'NUCC Provider Taxonomy' },
  { oid: '2.16.840.1.113883.4.6', uri: 'http://hl7.org/fhir/sid/us-npi', name: 'NPI' },
  { oid: '2.16.840.1.113883.4.1', uri: 'http://hl7.org/fhir/sid/us-ssn', name: 'SSN' },
  { oid: '2.16.840.1.113883.3.221.5', uri: 'urn:oid:2.16.840.1.113883.3.221.5', name: 'Source of Payment Typology' },
  { oid: '2.16.840.1.113883.12.227', uri: 'http://hl7.org/fhir/sid/mvx', name: 'MVX' },
  { oid: '2.16.840.1.113883.5.8', uri: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', name: 'ActReason' },
  { oid: '2.16.840.1.113883.5.1008', uri: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', name: 'NullFlavor' },
  { oid: '2.16.840.1.113883.5.1063', uri: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', name: 'ObservationValue' },
  { oid: '2.16.840.1.113883.5.139', uri: 'http://terminology.hl7.org/CodeSystem/v3-TimingEvent', name: 'TimingEvent' },
  { oid: '2.16.840.1.113883.5.7', uri: 'http://terminology.hl7.org/CodeSystem/v3-ActPriority', name: 'ActPriority' },
  { oid: '2.16.840.1.113883.6.3', uri: 'http://hl7.org/fhir/sid/icd-10', name: 'ICD-10' },
  { oid: '2.16.840.1.113883.3.26.1.5', uri: 'http://hl7.org/fhir/ndfrt', name: 'NDF-RT' },
  {
    oid: '2.16.840.1.113883.6.259',
    uri: 'https://www.cdc.gov/nhsn/cdaportal/terminology/codesystem/hsloc.html',
    name: 'HealthcareServiceLocation',
  },
]);

const byOid = new Map(CODE_SYSTEMS.map((s) => [s.oid, s]));
const byUri = new Map(CODE_SYSTEMS.map((s) => [s.uri, s]));

/** The FHIR system URI for a C-CDA codeSystem OID (unknown OIDs become urn:oid: URIs). */
export function systemUriForOid(oid: string): string {
  return byOid.get(oid)?.uri ?? `urn:oid:${oid}`;
}

/** True for the OID of a code system or identifier namespace in the table above. */
export function isKnownSystemOid(oid: string): boolean {
  return byOid.has(oid);
}

/** The C-CDA codeSystem OID for a FHIR system URI, or undefined when it has none. */
export function oidForSystemUri(uri: string): string | undefined {
  const known = byUri.get(uri);
  if (known) return known.oid;
  if (uri.startsWith('urn:oid:')) return uri.slice('urn:oid:'.length);
  return undefined;
}

/** The display name of a code system by OID, for `codeSystemName`. */
export function codeSystemName(oid: string): string | undefined {
  return byOid.get(oid)?.name;
}
