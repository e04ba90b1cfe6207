import { getStatus, OperationOutcomeError } from '@medplum/core';
import { parseDocumentPeriod } from './parse-document-period';

function outcomeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof OperationOutcomeError)
      return `${getStatus(err.outcome)} ${err.outcome.issue?.[0]?.code}: ${err.outcome.issue?.[0]?.details?.text}`;
    throw err;
  }
  return 'no error';
}

describe('parseDocumentPeriod', () => {
  it('accepts none, one or both dates', () => {
    expect(parseDocumentPeriod()).toEqual({ start: undefined, end: undefined });
    expect(parseDocumentPeriod('2024-03-01', undefined)).toEqual({ start: '2024-03-01', end: undefined });
    expect(parseDocumentPeriod('2024-03-01', '2024-03-01')).toEqual({ start: '2024-03-01', end: '2024-03-01' });
    expect(parseDocumentPeriod(null, '2024-02-29')).toEqual({ start: undefined, end: '2024-02-29' });
  });

  it('refuses malformed and impossible dates with a 400 OperationOutcome', () => {
    expect(outcomeOf(() => parseDocumentPeriod('2024-3-1'))).toBe(
      '400 invalid: start must be a calendar date as YYYY-MM-DD, got "2024-3-1"',
    );
    expect(outcomeOf(() => parseDocumentPeriod(undefined, '2023-02-29'))).toBe(
      '400 invalid: end must be a calendar date as YYYY-MM-DD, got "2023-02-29"',
    );
    expect(outcomeOf(() => parseDocumentPeriod('2024-03-01T00:00:00Z'))).toBe(
      '400 invalid: start must be a calendar date as YYYY-MM-DD, got "2024-03-01T00:00:00Z"',
    );
  });

  it('refuses a start after the end', () => {
    expect(outcomeOf(() => parseDocumentPeriod('2024-03-02', '2024-03-01'))).toBe(
      '400 invalid: start (2024-03-02) is after end (2024-03-01)',
    );
  });
});
