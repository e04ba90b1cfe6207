import { addDays, daysBetween, daysInMonth, fhirDateBounds, isFullDate, isLeapYear, parseDate, todayIn } from './calendar-date';

describe('parseDate / isFullDate', () => {
  test('accepts real calendar dates', () => {
    expect(parseDate('2024-02-29')).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parseDate('2000-12-31')).toEqual({ year: 2000, month: 12, day: 31 });
  });

  test.each(['2023-02-29', '1900-02-29', '2024-13-01', '2024-00-10', '2024-04-31', '2024-1-01', '20240101', '2024', '2024-05', ''])(
    'refuses %p',
    (value) => {
      expect(() => parseDate(value)).toThrow(RangeError);
      expect(isFullDate(value)).toBe(false);
    },
  );

  test('leap years follow the Gregorian rule', () => {
    expect([1900, 2000, 2023, 2024, 2100].map(isLeapYear)).toEqual([false, true, false, true, false]);
    expect(daysInMonth(2024, 2)).toBe(29);
    expect(daysInMonth(2025, 2)).toBe(28);
    expect(daysInMonth(2025, 4)).toBe(30);
    expect(daysInMonth(2025, 12)).toBe(31);
  });
});

describe('addDays / daysBetween', () => {
  test('crosses month, leap day and year ends', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-02-29', 1)).toBe('2024-03-01');
    expect(addDays('2025-02-28', 1)).toBe('2025-03-01');
    expect(addDays('2025-12-31', 1)).toBe('2026-01-01');
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
    expect(addDays('2026-05-10', 7)).toBe('2026-05-17');
    expect(daysBetween('2024-01-01', '2025-01-01')).toBe(366);
    expect(daysBetween('2026-05-17', '2026-05-10')).toBe(-7);
  });

  test('is not thrown off by daylight saving in the host zone', () => {
    // 2026-03-08 and 2026-11-01 are the US DST switches; arithmetic is in UTC so each step is one day.
    let date = '2026-03-01';
    for (let i = 0; i < 250; i++) {
      const next = addDays(date, 1);
      expect(daysBetween(date, next)).toBe(1);
      date = next;
    }
    expect(date).toBe('2026-11-06');
  });
});

describe('todayIn', () => {
  test('America/New_York: 04:30Z is still yesterday in winter (EST, UTC-5) and already today in summer (EDT)', () => {
    expect(todayIn('America/New_York', new Date('2026-01-15T04:30:00Z'))).toBe('2026-01-14');
    expect(todayIn('America/New_York', new Date('2026-01-15T04:59:59.999Z'))).toBe('2026-01-14');
    expect(todayIn('America/New_York', new Date('2026-01-15T05:00:00Z'))).toBe('2026-01-15');
    expect(todayIn('America/New_York', new Date('2026-05-10T03:59:59.999Z'))).toBe('2026-05-09');
    expect(todayIn('America/New_York', new Date('2026-05-10T04:00:00Z'))).toBe('2026-05-10');
    expect(todayIn('America/New_York', new Date('2026-05-10T04:30:00Z'))).toBe('2026-05-10');
  });

  test('zones far from UTC and UTC itself', () => {
    const instant = new Date('2026-12-31T11:30:00Z');
    expect(todayIn('UTC', instant)).toBe('2026-12-31');
    expect(todayIn('Pacific/Kiritimati', instant)).toBe('2027-01-01'); // UTC+14
    expect(todayIn('Pacific/Pago_Pago', new Date('2027-01-01T10:59:00Z'))).toBe('2026-12-31'); // UTC-11
    expect(todayIn('Asia/Kolkata', new Date('2026-06-30T18:29:00Z'))).toBe('2026-06-30'); // UTC+5:30
    expect(todayIn('Asia/Kolkata', new Date('2026-06-30T18:30:00Z'))).toBe('2026-07-01');
  });

  test('leap day in a zone', () => {
    expect(todayIn('America/Los_Angeles', new Date('2028-03-01T07:59:00Z'))).toBe('2028-02-29');
  });

  test('refuses an unknown zone and an invalid Date', () => {
    expect(() => todayIn('America/Nowhere', new Date('2026-01-01T00:00:00Z'))).toThrow(RangeError);
    expect(() => todayIn('UTC', new Date('nope'))).toThrow(RangeError);
  });
});

describe('fhirDateBounds', () => {
  test('full, month and year precision', () => {
    expect(fhirDateBounds('2013-05-10')).toEqual({ earliest: '2013-05-10', latest: '2013-05-10' });
    expect(fhirDateBounds('2012-02')).toEqual({ earliest: '2012-02-01', latest: '2012-02-29' });
    expect(fhirDateBounds('2013-02')).toEqual({ earliest: '2013-02-01', latest: '2013-02-28' });
    expect(fhirDateBounds('2013')).toEqual({ earliest: '2013-01-01', latest: '2013-12-31' });
  });

  test.each(['2013-13', '2013-02-30', '13', 'abcd', '2013-05-10T00:00:00Z', ''])('malformed %p gives undefined', (value) => {
    expect(fhirDateBounds(value)).toBeUndefined();
  });
});
