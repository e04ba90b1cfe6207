import type { Resource } from '@medplum/fhirtypes';

/** A document period: calendar dates (YYYY-MM-DD), both inclusive; either may be absent (open). */
export interface DocumentPeriod {
  readonly start?: string;
  readonly end?: string;
}

/** A resource's place in time: calendar days, `end` undefined = still going on (active). */
export interface ClinicalSpan {
  readonly start?: string;
  readonly end?: string;
  readonly ongoing: boolean;
}

/**
 * THE PERIOD RULE (what falls in a document's period [start, end], both dates inclusive):
 *
 * 1. Every clinical resource has a span in calendar days, taken from its own clinical dates as written
 *    (no time-zone conversion: "2024-03-01T23:30:00-05:00" is 1 March, the day the record says):
 *    Condition onset..abatement (else recordedDate), AllergyIntolerance onset..lastOccurrence (else
 *    recordedDate), Observation/DiagnosticReport effective (else issued), Procedure performed,
 *    Immunization occurrence (else recorded), Encounter period, MedicationRequest authoredOn..dispense
 *    validity end, MedicationStatement effective, CarePlan period (else created), Goal startDate..target
 *    due date, ServiceRequest occurrence (else authoredOn), Coverage period, DocumentReference
 *    context.period (else date). A partial date covers its whole month or year ("2024-03" = 1-31 March).
 * 2. Things still active have an open end: a Condition whose clinicalStatus is active/recurrence/relapse,
 *    an AllergyIntolerance that is active (or has no clinicalStatus), a MedicationRequest/MedicationStatement
 *    that is active/on-hold (intended), a CarePlan/ServiceRequest that is active/on-hold/draft, a Goal that
 *    is proposed/planned/accepted/active/on-hold, an active Coverage or Device.
 * 3. A resource is in the period when its span overlaps it: span.start <= period.end and
 *    span.end >= period.start. So an active problem with onset before the period is in; one resolved the
 *    day before the period starts is out; one with onset the day after the period ends is out.
 *    An active thing with no date at all is in every period (it is active during it); an inactive
 *    thing with no date is only in the all-time document.
 * 4. No start and no end = all time: everything is in. Resources that are not clinical events
 *    (Patient, Practitioner, Organization, Medication, Location, ...) are always kept: they are what the
 *    clinical ones refer to.
 */
export function selectForPeriod<T extends Resource>(resources: readonly T[], period: DocumentPeriod): T[] {
  if (!period.start && !period.end) return [...resources];
  return resources.filter((r) => isInPeriod(r, period));
}

/** Whether one resource falls in the period (see selectForPeriod for the rule). */
export function isInPeriod(resource: Resource, period: DocumentPeriod): boolean {
  const span = clinicalSpan(resource);
  if (span === 'timeless') return true;
  if (!period.start && !period.end) return true;
  if (!span.start && !span.end) return span.ongoing;
  const spanStart = span.start ? firstDay(span.start) : '0000-01-01';
  const spanEnd = span.ongoing ? '9999-12-31' : lastDay(span.end ?? span.start!);
  if (period.end && spanStart > period.end) return false;
  if (period.start && spanEnd < period.start) return false;
  return true;
}

/** The span of a clinical resource, or 'timeless' for resources that are not clinical events. */
export function clinicalSpan(r: Resource): ClinicalSpan | 'timeless' {
  switch (r.resourceType) {
    case 'Condition': {
      const c = r;
      const status = c.clinicalStatus?.coding?.[0]?.code;
      const start = c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate;
      const end = c.abatementDateTime ?? c.abatementPeriod?.end ?? c.abatementPeriod?.start;
      const ongoing = status === 'active' || status === 'recurrence' || status === 'relapse';
      return { start, end: end ?? start, ongoing };
    }
    case 'AllergyIntolerance': {
      const a = r;
      const status = a.clinicalStatus?.coding?.[0]?.code;
      const start = a.onsetDateTime ?? a.onsetPeriod?.start ?? a.recordedDate;
      return { start, end: a.lastOccurrence ?? start, ongoing: status === undefined || status === 'active' };
    }
    case 'Observation': {
      const o = r;
      const start = o.effectiveDateTime ?? o.effectiveInstant ?? o.effectivePeriod?.start ?? o.issued;
      return { start, end: o.effectivePeriod?.end ?? start, ongoing: false };
    }
    case 'DiagnosticReport': {
      const d = r;
      const start = d.effectiveDateTime ?? d.effectivePeriod?.start ?? d.issued;
      return { start, end: d.effectivePeriod?.end ?? start, ongoing: false };
    }
    case 'Procedure': {
      const p = r;
      const start = p.performedDateTime ?? p.performedPeriod?.start;
      return { start, end: p.performedPeriod?.end ?? start, ongoing: p.status === 'in-progress' };
    }
    case 'Immunization': {
      const i = r;
      const start = i.occurrenceDateTime ?? i.recorded;
      return { start, end: start, ongoing: false };
    }
    case 'Encounter': {
      const e = r;
      return { start: e.period?.start, end: e.period?.end ?? e.period?.start, ongoing: e.status === 'in-progress' };
    }
    case 'MedicationRequest': {
      const m = r;
      const start = m.authoredOn ?? m.dispenseRequest?.validityPeriod?.start;
      const ongoing = m.status === 'active' || m.status === 'on-hold';
      return { start, end: m.dispenseRequest?.validityPeriod?.end ?? start, ongoing };
    }
    case 'MedicationStatement': {
      const m = r;
      const start = m.effectiveDateTime ?? m.effectivePeriod?.start ?? m.dateAsserted;
      const ongoing = m.status === 'active' || m.status === 'intended' || m.status === 'on-hold';
      return { start, end: m.effectivePeriod?.end ?? start, ongoing };
    }
    case 'CarePlan': {
      const c = r;
      const start = c.period?.start ?? c.created;
      const ongoing = c.status === 'active' || c.status === 'on-hold' || c.status === 'draft';
      return { start, end: c.period?.end ?? start, ongoing };
    }
    case 'Goal': {
      const g = r;
      const start = g.startDate ?? g.statusDate;
      const due = g.target?.find((t) => t.dueDate)?.dueDate;
      const ongoing = ['proposed', 'planned', 'accepted', 'active', 'on-hold'].includes(g.lifecycleStatus);
      return { start, end: due ?? start, ongoing };
    }
    case 'ServiceRequest': {
      const s = r;
      const start = s.occurrenceDateTime ?? s.occurrencePeriod?.start ?? s.authoredOn;
      const ongoing = s.status === 'active' || s.status === 'on-hold' || s.status === 'draft';
      return { start, end: s.occurrencePeriod?.end ?? start, ongoing };
    }
    case 'Coverage': {
      const c = r;
      return { start: c.period?.start, end: c.period?.end ?? c.period?.start, ongoing: c.status === 'active' && !c.period?.end };
    }
    case 'Device': {
      const d = r;
      return { start: d.manufactureDate, end: d.expirationDate, ongoing: d.status === 'active' };
    }
    case 'DocumentReference': {
      const d = r;
      const start = d.context?.period?.start ?? d.date;
      return { start, end: d.context?.period?.end ?? start, ongoing: false };
    }
    case 'CareTeam':
    case 'DeviceUseStatement':
    case 'Claim':
    case 'ExplanationOfBenefit':
    case 'ImagingStudy':
    case 'Communication':
    case 'Provenance':
    case 'AuditEvent': {
      const anyR = r as { period?: { start?: string; end?: string }; status?: string; created?: string; started?: string };
      const start = anyR.period?.start ?? anyR.started ?? anyR.created;
      return { start, end: anyR.period?.end ?? start, ongoing: anyR.status === 'active' && !anyR.period?.end };
    }
    default:
      return 'timeless';
  }
}

/** First calendar day a FHIR date/dateTime covers ("2024" -> "2024-01-01"). */
export function firstDay(value: string): string {
  const d = value.slice(0, 10);
  if (d.length === 4) return `${d}-01-01`;
  if (d.length === 7) return `${d}-01`;
  return d;
}

/** Last calendar day a FHIR date/dateTime covers ("2024-02" -> "2024-02-29"). */
export function lastDay(value: string): string {
  const d = value.slice(0, 10);
  if (d.length === 4) return `${d}-12-31`;
  if (d.length === 7) {
    const [y, m] = d.split('-').map(Number);
    const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
    return `${d}-${String(days).padStart(2, '0')}`;
  }
  return d;
}
