import { AGE_POLICIES, agePolicyByName, WESTCHESTER_POLICY, WESTMED_POLICY } from './age-policy-profiles';
import {
  ageBandOn,
  ageOn,
  bandChangesOn,
  birthDatesReachingAgeOn,
  birthdayOf,
  canHaveOwnAccount,
  effectiveAccessLevel,
  knownChildOn,
  nextAccessChange,
  ownAccountRefusalMessage,
  passcodeConsentGrantedBy,
} from './age-policy';
import { addDays, isLeapYear as isLeap } from './calendar-date';

describe('ageOn', () => {
  test('counts whole years, turning older on the birthday itself', () => {
    expect(ageOn('2013-05-10', '2013-05-10')).toBe(0);
    expect(ageOn('2013-05-10', '2026-05-09')).toBe(12);
    expect(ageOn('2013-05-10', '2026-05-10')).toBe(13);
    expect(ageOn('2013-05-10', '2026-05-11')).toBe(13);
    expect(ageOn('2013-12-31', '2014-01-01')).toBe(0);
    expect(ageOn('2013-01-01', '2013-12-31')).toBe(0);
    expect(ageOn('2013-01-01', '2014-01-01')).toBe(1);
  });

  test('February 29 births turn older on March 1 in common years and on February 29 in leap years', () => {
    expect(ageOn('2012-02-29', '2025-02-28')).toBe(12);
    expect(ageOn('2012-02-29', '2025-03-01')).toBe(13);
    expect(ageOn('2012-02-29', '2028-02-28')).toBe(15);
    expect(ageOn('2012-02-29', '2028-02-29')).toBe(16);
    expect(ageOn('2012-02-29', '2030-02-28')).toBe(17);
    expect(ageOn('2012-02-29', '2030-03-01')).toBe(18);
  });

  test('March 1 births in a leap year are not confused with February 29', () => {
    expect(ageOn('2012-03-01', '2024-02-29')).toBe(11);
    expect(ageOn('2012-03-01', '2024-03-01')).toBe(12);
  });

  test('refuses partial dates and a today before the birth', () => {
    expect(() => ageOn('2013', '2026-01-01')).toThrow(RangeError);
    expect(() => ageOn('2013-05-10', '2026-05')).toThrow(RangeError);
    expect(() => ageOn('2013-05-10', '2013-05-09')).toThrow('before the birth date');
  });

  test('agrees with counting birthdays one by one, for every birth date of 2011-2012 on every 7th day of 2024-2025', () => {
    const births: string[] = [];
    for (let b = '2011-01-01'; b <= '2012-12-31'; b = addDays(b, 1)) {
      births.push(b);
    }
    let checked = 0;
    const mismatches: string[] = [];
    for (let d = '2024-01-01'; d <= '2025-12-31'; d = addDays(d, 7)) {
      for (const b of births) {
        let count = 10;
        while (birthdayOf(b, count + 1) <= d) {
          count++;
        }
        if (ageOn(b, d) !== count) {
          mismatches.push(`${b} on ${d}: ${ageOn(b, d)} != ${count}`);
        }
        checked++;
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBe(105 * 731);
  });
});

describe('birthdayOf / birthDatesReachingAgeOn', () => {
  test('birthdayOf', () => {
    expect(birthdayOf('2013-05-10', 13)).toBe('2026-05-10');
    expect(birthdayOf('2012-02-29', 13)).toBe('2025-03-01');
    expect(birthdayOf('2012-02-29', 16)).toBe('2028-02-29');
  });

  test('examples', () => {
    expect(birthDatesReachingAgeOn('2026-05-17', 13)).toEqual(['2013-05-17']);
    expect(birthDatesReachingAgeOn('2025-03-01', 13)).toEqual(['2012-02-29', '2012-03-01']);
    expect(birthDatesReachingAgeOn('2028-03-01', 16)).toEqual(['2012-03-01']);
    expect(birthDatesReachingAgeOn('2028-02-29', 16)).toEqual(['2012-02-29']);
    expect(birthDatesReachingAgeOn('2028-02-29', 13)).toEqual([]);
  });

  test.each([
    ['2025', 13], // common year, leap birth year: March 1 has two
    ['2028', 12], // leap and leap: February 29 births on February 29
    ['2028', 13], // leap year, common birth year: February 29 has none
  ])('matches a brute-force scan on every day of %s for age %i', (year, age) => {
    const actual: string[][] = [];
    const expectedAll: string[][] = [];
    for (let d = `${year}-01-01`; d <= `${year}-12-31`; d = addDays(d, 1)) {
      const expected: string[] = [];
      const dayBefore = addDays(d, -1);
      for (let b = `${Number(year) - age - 1}-12-01`; b <= `${Number(year) - age}-12-31`; b = addDays(b, 1)) {
        if (ageOn(b, d) === age && ageOn(b, dayBefore) === age - 1) {
          expected.push(b);
        }
      }
      expectedAll.push(expected);
      actual.push(birthDatesReachingAgeOn(d, age));
    }
    expect(actual).toEqual(expectedAll);
    // Each birth in year Y - age reaches that age exactly once in year Y.
    expect(expectedAll.flat().length).toBe(isLeap(Number(year) - age) ? 366 : 365);
  });
});

describe('ageBandOn', () => {
  test('westmed bands at 13 and 18', () => {
    expect(ageBandOn('2013-05-10', '2026-05-09')).toBe('child');
    expect(ageBandOn('2013-05-10', '2026-05-10')).toBe('teen');
    expect(ageBandOn('2008-05-10', '2026-05-09')).toBe('teen');
    expect(ageBandOn('2008-05-10', '2026-05-10')).toBe('adult');
  });

  test('westchester bands at 12 and 18', () => {
    expect(ageBandOn('2014-05-10', '2026-05-09', WESTCHESTER_POLICY)).toBe('child');
    expect(ageBandOn('2014-05-10', '2026-05-10', WESTCHESTER_POLICY)).toBe('teen');
    expect(ageBandOn('2014-05-10', '2026-05-10', WESTMED_POLICY)).toBe('child');
    expect(ageBandOn('2008-05-10', '2026-05-10', WESTCHESTER_POLICY)).toBe('adult');
  });
});

describe('canHaveOwnAccount', () => {
  test('westmed refuses under 13, westchester under 12, to the day', () => {
    expect(canHaveOwnAccount('2013-05-10', '2026-05-09')).toBe(false);
    expect(canHaveOwnAccount('2013-05-10', '2026-05-10')).toBe(true);
    expect(canHaveOwnAccount('2014-05-10', '2026-05-09', WESTCHESTER_POLICY)).toBe(false);
    expect(canHaveOwnAccount('2014-05-10', '2026-05-10', WESTCHESTER_POLICY)).toBe(true);
    expect(canHaveOwnAccount('2014-05-10', '2026-05-10', WESTMED_POLICY)).toBe(false);
    expect(canHaveOwnAccount('1984-04-07', '2026-05-10')).toBe(true);
  });

  test('February 29 birth can register on March 1 of its 13th year', () => {
    expect(canHaveOwnAccount('2012-02-29', '2025-02-28')).toBe(false);
    expect(canHaveOwnAccount('2012-02-29', '2025-03-01')).toBe(true);
  });

  test('partial dates count from their latest day; unknown, malformed and future birth dates are refused', () => {
    expect(canHaveOwnAccount('2013', '2026-12-30')).toBe(false);
    expect(canHaveOwnAccount('2013', '2026-12-31')).toBe(true);
    expect(canHaveOwnAccount('2013-02', '2026-02-28')).toBe(true);
    expect(canHaveOwnAccount('2012-02', '2025-02-28')).toBe(false);
    expect(canHaveOwnAccount(undefined, '2026-01-01')).toBe(false);
    expect(canHaveOwnAccount('garbage', '2026-01-01')).toBe(false);
    expect(canHaveOwnAccount('2027-01-01', '2026-01-01')).toBe(false);
  });

  test('refusal message names COPPA and the policy age', () => {
    expect(ownAccountRefusalMessage()).toBe(
      'To comply with the Children’s Online Privacy Protection Act (COPPA), patients under the age of 13 cannot create ' +
        'their own portal accounts, and no one can register or invite a portal user under the age of 13. ' +
        'A parent or guardian can request family access instead.',
    );
    expect(ownAccountRefusalMessage(WESTCHESTER_POLICY)).toContain('under the age of 12 cannot');
  });
});

describe('knownChildOn', () => {
  test('the child band to the day: under 13 at westmed, under 12 at westchester', () => {
    expect(knownChildOn('2013-05-10', '2026-05-09')).toBe(true);
    expect(knownChildOn('2013-05-10', '2026-05-10')).toBe(false);
    expect(knownChildOn('2014-05-10', '2026-05-09', WESTCHESTER_POLICY)).toBe(true);
    expect(knownChildOn('2014-05-10', '2026-05-10', WESTCHESTER_POLICY)).toBe(false);
    expect(knownChildOn('2026-05-10', '2026-05-10')).toBe(true);
  });

  test('a partial date must be a child on every day it allows; unknown, malformed and future dates are not', () => {
    // Born some day of 2013: 13 already if born by 2013-05-10.
    expect(knownChildOn('2013', '2026-05-10')).toBe(false);
    expect(knownChildOn('2013', '2025-12-31')).toBe(true);
    expect(knownChildOn('2013-06', '2026-05-31')).toBe(true);
    expect(knownChildOn('2013-05', '2026-05-31')).toBe(false);
    expect(knownChildOn(undefined, '2026-05-10')).toBe(false);
    expect(knownChildOn('2013-13-01', '2026-05-10')).toBe(false);
    expect(knownChildOn('2026-06-01', '2026-05-10')).toBe(false);
  });
});

describe('passcodeConsentGrantedBy', () => {
  test('a child never consents; a teen only through their own account; an adult through any address of theirs', () => {
    expect(passcodeConsentGrantedBy('2017-03-02', '2026-11-21', true)).toBe('guardian');
    expect(passcodeConsentGrantedBy('2017-03-02', '2026-11-21', false)).toBe('guardian');
    expect(passcodeConsentGrantedBy('2011-08-19', '2026-11-21', true)).toBe('patient');
    expect(passcodeConsentGrantedBy('2011-08-19', '2026-11-21', false)).toBe('guardian');
    expect(passcodeConsentGrantedBy('1984-04-07', '2026-11-21', false)).toBe('patient');
    expect(passcodeConsentGrantedBy('1984-04-07', '2026-11-21', true)).toBe('patient');
  });

  test('boundaries: the 13th and 18th birthdays, westchester at 12', () => {
    expect(passcodeConsentGrantedBy('2013-05-10', '2026-05-09', true)).toBe('guardian');
    expect(passcodeConsentGrantedBy('2013-05-10', '2026-05-10', true)).toBe('patient');
    expect(passcodeConsentGrantedBy('2008-05-10', '2026-05-09', false)).toBe('guardian');
    expect(passcodeConsentGrantedBy('2008-05-10', '2026-05-10', false)).toBe('patient');
    expect(passcodeConsentGrantedBy('2014-05-10', '2026-05-10', true, WESTCHESTER_POLICY)).toBe('patient');
  });

  test('a parent who reads the teen’s mail on file gets a guardian grant, which is billing only', () => {
    const grantedBy = passcodeConsentGrantedBy('2011-08-19', '2026-11-21', false);
    const grant = { level: 'full', grantedBy, grantedOn: '2026-11-21' } as const;
    expect(effectiveAccessLevel({ birthDate: '2011-08-19', today: '2026-11-21', grant, relationship: 'guardian' })).toBe('billing');
  });

  test('partial and unknown birth dates', () => {
    expect(passcodeConsentGrantedBy('2008', '2026-06-01', false)).toBe('guardian'); // 17 if born in December
    expect(passcodeConsentGrantedBy('2008', '2026-12-31', false)).toBe('patient');
    expect(passcodeConsentGrantedBy(undefined, '2026-06-01', true)).toBe('patient');
    expect(passcodeConsentGrantedBy(undefined, '2026-06-01', false)).toBe('guardian');
  });
});

describe('nextAccessChange / bandChangesOn', () => {
  test('child -> teen, teen -> adult, adult -> nothing', () => {
    expect(nextAccessChange('2017-03-02', '2026-11-21')).toEqual({ date: '2030-03-02', age: 13, fromBand: 'child', toBand: 'teen' });
    expect(nextAccessChange('2013-05-10', '2026-05-09')).toEqual({ date: '2026-05-10', age: 13, fromBand: 'child', toBand: 'teen' });
    expect(nextAccessChange('2013-05-10', '2026-05-10')).toEqual({ date: '2031-05-10', age: 18, fromBand: 'teen', toBand: 'adult' });
    expect(nextAccessChange('2008-11-21', '2026-11-20')).toEqual({ date: '2026-11-21', age: 18, fromBand: 'teen', toBand: 'adult' });
    expect(nextAccessChange('2008-11-21', '2026-11-21')).toBeUndefined();
    expect(nextAccessChange(undefined, '2026-11-21')).toBeUndefined();
    expect(nextAccessChange('nonsense', '2026-11-21')).toBeUndefined();
  });

  test('westchester changes at 12; February 29 births change on March 1; partial dates answer the earliest day', () => {
    expect(nextAccessChange('2017-03-02', '2026-11-21', WESTCHESTER_POLICY)).toEqual({
      date: '2029-03-02',
      age: 12,
      fromBand: 'child',
      toBand: 'teen',
    });
    expect(nextAccessChange('2012-02-29', '2025-02-20')).toEqual({ date: '2025-03-01', age: 13, fromBand: 'child', toBand: 'teen' });
    expect(nextAccessChange('2013', '2025-06-01')).toEqual({ date: '2026-01-01', age: 13, fromBand: 'child', toBand: 'teen' });
  });

  test('the week-ahead job finds the birth dates changing on today + 7', () => {
    const inAWeek = addDays('2025-02-22', 7);
    expect(inAWeek).toBe('2025-03-01');
    expect(bandChangesOn(inAWeek)).toEqual([
      { age: 13, toBand: 'teen', birthDates: ['2012-02-29', '2012-03-01'] },
      { age: 18, toBand: 'adult', birthDates: ['2007-03-01'] },
    ]);
    expect(bandChangesOn('2026-11-28', WESTCHESTER_POLICY)).toEqual([
      { age: 12, toBand: 'teen', birthDates: ['2014-11-28'] },
      { age: 18, toBand: 'adult', birthDates: ['2008-11-28'] },
    ]);
    // Every date bandChangesOn names does have nextAccessChange on that day, seen from a week before.
    for (const { birthDates, age } of bandChangesOn(inAWeek)) {
      for (const birth of birthDates) {
        expect(nextAccessChange(birth, '2025-02-22')).toMatchObject({ date: inAWeek, age });
      }
    }
  });
});

describe('policy profiles', () => {
  test('by name, default and unknown', () => {
    expect(agePolicyByName(undefined)).toBe(WESTMED_POLICY);
    expect(agePolicyByName('')).toBe(WESTMED_POLICY);
    expect(agePolicyByName('westchester')).toBe(WESTCHESTER_POLICY);
    expect(() => agePolicyByName('toString')).toThrow('Unknown age policy "toString"; expected one of: westmed, westchester');
    expect(Object.keys(AGE_POLICIES)).toEqual(['westmed', 'westchester']);
  });

  test('profiles are frozen', () => {
    expect(Object.isFrozen(WESTMED_POLICY)).toBe(true);
    expect(Object.isFrozen(WESTCHESTER_POLICY)).toBe(true);
  });
});
