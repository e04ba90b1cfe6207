import type {
  AllergyIntolerance,
  Condition,
  Encounter,
  Immunization,
  MedicationRequest,
  Observation,
  Organization,
  Procedure,
  Resource,
} from '@medplum/fhirtypes';
import { firstDay, isInPeriod, lastDay, selectForPeriod } from './select-for-period';

const PERIOD = { start: '2024-03-10', end: '2024-03-20' };

function obs(id: string, effectiveDateTime: string): Observation {
  return { resourceType: 'Observation', id, status: 'final', code: { text: id }, effectiveDateTime };
}

function condition(id: string, status: string, onset: string, abatement?: string): Condition {
  return {
    resourceType: 'Condition',
    id,
    subject: { reference: 'Patient/p' },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: status }] },
    onsetDateTime: onset,
    abatementDateTime: abatement,
  };
}

function ids(resources: Resource[]): string[] {
  return resources.map((r) => r.id as string);
}

describe('selectForPeriod: point-in-time events', () => {
  const events = [
    obs('day-before-start', '2024-03-09T23:59:59-05:00'),
    obs('on-start', '2024-03-10T00:00:00-05:00'),
    obs('on-end', '2024-03-20T23:59:59+09:00'),
    obs('day-after-end', '2024-03-21T00:00:00Z'),
  ];

  it('keeps events on the first and last day and drops the days just outside', () => {
    expect(ids(selectForPeriod(events, PERIOD))).toEqual(['on-start', 'on-end']);
  });

  it('reads the calendar day as written, without converting time zones', () => {
    // 23:30 in New York on 20 March is 21 March in UTC, but the record says the 20th.
    expect(isInPeriod(obs('late', '2024-03-20T23:30:00-05:00'), PERIOD)).toBe(true);
    expect(isInPeriod(obs('early', '2024-03-10T00:30:00+14:00'), PERIOD)).toBe(true);
  });

  it('treats a single date (start = end) as that whole day', () => {
    const day = { start: '2024-03-20', end: '2024-03-20' };
    expect(ids(selectForPeriod(events, day))).toEqual(['on-end']);
  });

  it('keeps everything when there is neither start nor end', () => {
    expect(ids(selectForPeriod(events, {}))).toEqual(['day-before-start', 'on-start', 'on-end', 'day-after-end']);
  });

  it('handles open-ended periods (only start, only end)', () => {
    expect(ids(selectForPeriod(events, { start: '2024-03-20' }))).toEqual(['on-end', 'day-after-end']);
    expect(ids(selectForPeriod(events, { end: '2024-03-10' }))).toEqual(['day-before-start', 'on-start']);
  });

  it('uses the other clinical date fields of each resource type', () => {
    const proc: Procedure = {
      resourceType: 'Procedure',
      id: 'proc',
      status: 'completed',
      subject: { reference: 'Patient/p' },
      performedPeriod: { start: '2024-03-01', end: '2024-03-10T08:00:00Z' },
    };
    const imm: Immunization = {
      resourceType: 'Immunization',
      id: 'imm',
      status: 'completed',
      vaccineCode: { text: 'flu' },
      patient: { reference: 'Patient/p' },
      occurrenceDateTime: '2024-03-21',
    };
    const enc: Encounter = {
      resourceType: 'Encounter',
      id: 'enc',
      status: 'finished',
      class: { code: 'AMB' },
      period: { start: '2024-03-20T23:00:00Z', end: '2024-03-21T01:00:00Z' },
    };
    const oldRx: MedicationRequest = {
      resourceType: 'MedicationRequest',
      id: 'old-rx',
      status: 'completed',
      intent: 'order',
      subject: { reference: 'Patient/p' },
      authoredOn: '2024-03-09',
    };
    expect(ids(selectForPeriod([proc, imm, enc, oldRx], PERIOD))).toEqual(['proc', 'enc']);
  });
});

describe('selectForPeriod: things that last', () => {
  it('includes an active problem that began before the period and excludes one that begins after it', () => {
    const before = condition('active-before', 'active', '2019-05-01');
    const after = condition('active-after', 'active', '2024-03-21');
    const onEnd = condition('active-on-end', 'active', '2024-03-20');
    expect(ids(selectForPeriod([before, after, onEnd], PERIOD))).toEqual(['active-before', 'active-on-end']);
  });

  it('includes a problem resolved on the first day and excludes one resolved the day before', () => {
    const resolvedOnStart = condition('resolved-on-start', 'resolved', '2024-01-01', '2024-03-10');
    const resolvedBefore = condition('resolved-before', 'resolved', '2024-01-01', '2024-03-09');
    expect(ids(selectForPeriod([resolvedOnStart, resolvedBefore], PERIOD))).toEqual(['resolved-on-start']);
  });

  it('keeps active medications and allergies recorded long before the period', () => {
    const rx: MedicationRequest = {
      resourceType: 'MedicationRequest',
      id: 'rx',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/p' },
      authoredOn: '2020-01-01',
    };
    const stopped: MedicationRequest = { ...rx, id: 'stopped', status: 'stopped' };
    const allergy: AllergyIntolerance = {
      resourceType: 'AllergyIntolerance',
      id: 'pcn',
      patient: { reference: 'Patient/p' },
      recordedDate: '2001-06-01',
    };
    const inactive: AllergyIntolerance = {
      ...allergy,
      id: 'inactive',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'inactive' }] },
    };
    expect(ids(selectForPeriod([rx, stopped, allergy, inactive], PERIOD))).toEqual(['rx', 'pcn']);
  });

  it('always keeps resources that are not clinical events (what the others refer to)', () => {
    const org: Organization = { resourceType: 'Organization', id: 'org', name: 'Clinic' };
    expect(ids(selectForPeriod([org], PERIOD))).toEqual(['org']);
  });

  it('keeps an undated active thing in every period and an undated inactive one only in all time', () => {
    const activeUndated = condition('active-undated', 'active', undefined as unknown as string);
    const resolvedUndated = condition('resolved-undated', 'resolved', undefined as unknown as string);
    expect(ids(selectForPeriod([activeUndated, resolvedUndated], PERIOD))).toEqual(['active-undated']);
    expect(ids(selectForPeriod([activeUndated, resolvedUndated], {}))).toEqual(['active-undated', 'resolved-undated']);
  });
});

describe('partial dates', () => {
  it('expand to the whole month or year they name', () => {
    expect(firstDay('2024')).toBe('2024-01-01');
    expect(lastDay('2024')).toBe('2024-12-31');
    expect(firstDay('2024-02')).toBe('2024-02-01');
    expect(lastDay('2024-02')).toBe('2024-02-29');
    expect(lastDay('2023-02')).toBe('2023-02-28');
    expect(lastDay('2024-03-05T10:00:00Z')).toBe('2024-03-05');
  });

  it('overlap the period when any day of them does', () => {
    expect(isInPeriod(obs('march', '2024-03'), PERIOD)).toBe(true);
    expect(isInPeriod(obs('february', '2024-02'), PERIOD)).toBe(false);
    expect(isInPeriod(obs('year', '2024'), PERIOD)).toBe(true);
  });
});
