import { oidForSystemUri } from '../code-systems';
import type { CcdInput } from '../render/render-ccd';
import { DEFAULT_ID_ROOT } from '../render/render-context';
import type { XdmMeta } from './xdm-metadata';

const OID = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/**
 * XDM metadata for a CCD rendered from `input`: the patient id is the first identifier whose system is an OID
 * (e.g. the MRN), else the FHIR id under the renderer's id root; the service times are the document period.
 */
export function xdmMetaForCcd(input: CcdInput, sourceId: string): XdmMeta {
  const p = input.patient;
  const ident = (p.identifier ?? []).find((i) => i.value && i.system && OID.test(oidForSystemUri(i.system) ?? ''));
  const official = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
  const author = input.author;
  return {
    documentId: input.documentId,
    patientId: ident?.value ?? `Patient/${p.id ?? 'unknown'}`,
    patientIdRoot: ident?.system ? (oidForSystemUri(ident.system) as string) : (input.idRoot ?? DEFAULT_ID_ROOT),
    patientName: official ? { family: official.family, given: official.given } : undefined,
    patientBirthDate: p.birthDate,
    patientGender: p.gender,
    creationTime: input.now,
    serviceStart: input.period?.start,
    serviceStop: input.period?.end,
    title: 'Continuity of Care Document',
    authorInstitution: input.custodian.name,
    authorPerson:
      author?.resourceType === 'Practitioner'
        ? [author.name?.[0]?.family, ...(author.name?.[0]?.given ?? [])].filter(Boolean).join('^')
        : undefined,
    sourceId,
    idRoot: input.idRoot ?? DEFAULT_ID_ROOT,
  };
}
