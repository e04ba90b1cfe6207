import type { BundleEntry, OperationOutcome } from '@medplum/fhirtypes';
import { takeOutValue, unstorableValueOf } from './unstorable-value';

const refusal = (expression: string, text: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'structure', details: { text }, expression: [expression] }],
});

describe('a value the store refuses', () => {
  const sent: BundleEntry[] = [{ fullUrl: 'urn:uuid:a' }, { fullUrl: 'urn:uuid:b' }];

  it('is found from the refusal: the entry sent and the path in its resource', () => {
    expect(
      unstorableValueOf(
        refusal('Bundle.entry[1].resource.Observation.effective[x].end', 'Invalid dateTime: 2010-04-31 is not a day of the calendar'),
        sent,
      ),
    ).toEqual({
      fullUrl: 'urn:uuid:b',
      path: 'Observation.effective[x].end',
      message: 'Invalid dateTime: 2010-04-31 is not a day of the calendar',
    });
    // A refusal that does not point into an entry is not one value to take out.
    expect(unstorableValueOf(refusal('Patient.birthDate', 'x'), sent)).toBeUndefined();
    expect(unstorableValueOf(refusal('Bundle.entry[7].resource.Observation.status', 'x'), sent)).toBeUndefined();
  });

  it('a date is reduced to its month, whatever choice type holds it', () => {
    const observation = {
      resourceType: 'Observation',
      identifier: [{ value: 'obs-7' }],
      effectivePeriod: { start: '2010-04-01', end: '2010-04-31' },
    };
    const warning = takeOutValue(observation, {
      fullUrl: 'urn:uuid:b',
      path: 'Observation.effective[x].end',
      message: 'not a day of the calendar',
    });
    expect(warning).toBe(
      'Observation obs-7: Observation.effective[x].end "2010-04-31" could not be stored (not a day of the calendar); kept as 2010-04',
    );
    expect(observation.effectivePeriod).toEqual({ start: '2010-04-01', end: '2010-04' });
  });

  it('anything else is left out, and a container it leaves empty goes too', () => {
    const observation = {
      resourceType: 'Observation',
      code: { coding: [{ system: 'http://loinc.org', code: '1  2' }], text: 'Glucose' },
      valueQuantity: { value: 5, code: 'mg  dL' },
    };
    expect(takeOutValue(observation, { fullUrl: 'x', path: 'Observation.value[x].code', message: 'Invalid code format' })).toBe(
      'Observation: Observation.value[x].code "mg  dL" could not be stored (Invalid code format); left out',
    );
    expect(observation.valueQuantity).toEqual({ value: 5 });
    takeOutValue(observation, { fullUrl: 'x', path: 'Observation.code.coding[0].code', message: 'Invalid code format' });
    takeOutValue(observation, { fullUrl: 'x', path: 'Observation.code.coding[0].system', message: 'Invalid' });
    expect(observation.code).toEqual({ text: 'Glucose' });
  });

  it('a path that leads nowhere takes nothing out', () => {
    const resource = { resourceType: 'Observation', status: 'final' };
    expect(takeOutValue(resource, { fullUrl: 'x', path: 'Observation.effective[x].end', message: 'x' })).toBeUndefined();
    expect(resource).toEqual({ resourceType: 'Observation', status: 'final' });
  });
});
