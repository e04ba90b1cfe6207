import type { CareTeam, Encounter, Organization, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import { SECTION_DEFINITIONS } from '../../../ccda-templates';
import type { SectionData } from '../../../ccda-templates/section-definition';
import { clinicalSpan, firstDay, selectForPeriod, type DocumentPeriod } from '../period/select-for-period';
import { writeCcdHeader } from './ccd-header';
import { ResourceLookup, RenderContext } from './render-context';
import { writeSection } from './section-writer';
import { XmlWriter } from './xml-writer';

/** Everything a CCD is rendered from. Pure data: no database, no clock, no I/O. */
export interface CcdInput {
  /** The patient the document is about. */
  readonly patient: Patient;
  /**
   * All of the patient's resources, plus what they reference (Practitioner, Organization, Medication...).
   * The period is applied here, not by the caller.
   */
  readonly resources: readonly Resource[];
  /** Calendar dates (YYYY-MM-DD), inclusive; none = all time; equal = one date. */
  readonly period?: DocumentPeriod;
  /** The organization keeping the record (ClinicalDocument/custodian). */
  readonly custodian: Organization;
  /** Who the document is attributed to; absent = the software on behalf of the custodian. */
  readonly author?: Practitioner | Organization;
  /** Unique id of this document (a UUID is written as the id root). */
  readonly documentId: string;
  /** The document's creation time. */
  readonly now: Date;
  /** OID under which resource ids are written (default: Chartkeeper's 2.25 root). */
  readonly idRoot?: string;
}

const XML_HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc">';

function groupByType(resources: readonly Resource[]): Map<string, Resource[]> {
  const map = new Map<string, Resource[]>();
  for (const r of resources) {
    let list = map.get(r.resourceType);
    if (!list) map.set(r.resourceType, (list = []));
    list.push(r);
  }
  return map;
}

/** The earliest clinical date among the resources (for an all-time serviceEvent's low). */
function earliestClinicalDate(resources: readonly Resource[]): string | undefined {
  let min: string | undefined;
  for (const r of resources) {
    const span = clinicalSpan(r);
    if (span === 'timeless' || !span.start) continue;
    const d = firstDay(span.start);
    if (!min || d < min) min = d;
  }
  return min;
}

/** Practitioners caring for the patient in the period: general practitioners, care team members, encounter participants. */
function careTeamOf(patient: Patient, selected: ReadonlyMap<string, Resource[]>, lookup: ResourceLookup): Practitioner[] {
  const out = new Map<string, Practitioner>();
  const add = (r: Practitioner | undefined): void => {
    if (r?.id && !out.has(r.id)) out.set(r.id, r);
  };
  for (const ref of patient.generalPractitioner ?? []) add(lookup.practitioner(ref));
  for (const team of (selected.get('CareTeam') ?? []) as CareTeam[]) {
    for (const p of team.participant ?? []) add(lookup.practitioner(p.member));
  }
  for (const e of (selected.get('Encounter') ?? []) as Encounter[]) {
    for (const p of e.participant ?? []) add(lookup.practitioner(p.individual));
  }
  return [...out.values()];
}

/** The document title, saying which period it covers. */
export function ccdTitle(period: DocumentPeriod): string {
  const base = 'Continuity of Care Document';
  if (period.start && period.end)
    return period.start === period.end ? `${base} for ${period.start}` : `${base} for ${period.start} to ${period.end}`;
  if (period.start) return `${base} from ${period.start}`;
  if (period.end) return `${base} through ${period.end}`;
  return base;
}

/**
 * The record's resource types a CCD is rendered from: every section's, and the care teams and encounters of the
 * header. Practitioners, organizations, medications and the like come along as what these reference.
 */
export const CCD_RECORD_TYPES: readonly string[] = Object.freeze(
  [...new Set([...SECTION_DEFINITIONS.flatMap((s) => s.resourceTypes), 'CareTeam', 'Encounter'])].filter((type) => type !== 'Patient'),
);

/** Renders a C-CDA R2.1 Continuity of Care Document (XML string) for a patient and period. */
export function renderCcd(input: CcdInput): string {
  const period = input.period ?? {};
  const lookup = new ResourceLookup([input.patient, input.custodian, ...input.resources]);
  const ctx = new RenderContext(input.patient, lookup, input.now, input.idRoot);
  const selected = groupByType(selectForPeriod(input.resources, period));
  const data: SectionData = {
    patient: input.patient,
    ofType: <T extends Resource>(type: T['resourceType']) => (selected.get(type) ?? []) as T[],
  };
  const today = input.now.toISOString().slice(0, 10);
  const serviceStart = period.start ?? earliestClinicalDate(input.resources) ?? input.patient.birthDate ?? period.end ?? today;
  const serviceEnd = period.end ?? today;

  const w = new XmlWriter();
  w.raw(XML_HEAD);
  writeCcdHeader(
    w,
    {
      documentId: input.documentId,
      title: ccdTitle(period),
      custodian: input.custodian,
      author: input.author,
      serviceStart,
      serviceEnd,
      careTeam: careTeamOf(input.patient, selected, lookup),
    },
    ctx,
  );
  w.open('component').open('structuredBody');
  for (const def of SECTION_DEFINITIONS) writeSection(w, def, data, ctx);
  w.close('structuredBody').close('component');
  w.close('ClinicalDocument');
  return w.toString();
}
