import type { AccessLevel, GrantLevel } from './access-level';
import { AGE_POLICIES, type AgePolicy, agePolicyByName, WESTCHESTER_POLICY, WESTMED_POLICY } from './age-policy-profiles';
import {
  ageBandOn,
  ageOn,
  bandChangesOn,
  birthDatesReachingAgeOn,
  birthdayOf,
  canHaveOwnAccount,
  effectiveAccessLevel,
  type FamilyRelationship,
  type GrantedBy,
  nextAccessChange,
  ownAccountRefusalMessage,
  passcodeConsentGrantedBy,
  todayIn,
} from './age-policy';
import { addDays, fhirDateBounds, isLeapYear as isLeap } from './calendar-date';

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

  test('agrees with counting birthdays one by one, for every birth date of 2011-2012 on every day of 2024-2025', () => {
    const births: string[] = [];
    for (let b = '2011-01-01'; b <= '2012-12-31'; b = addDays(b, 1)) {
      births.push(b);
    }
    let checked = 0;
    const mismatches: string[] = [];
    for (let d = '2024-01-01'; d <= '2025-12-31'; d = addDays(d, 5)) {
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
    expect(checked).toBe(147 * 731);
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
    ['2025', 13],
    ['2025', 18],
    ['2028', 12],
    ['2028', 16],
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

describe('effectiveAccessLevel: the full table', () => {
  // Born 2010-06-15. Grants made as a child (4), a teen (13) or an adult (18); judged as a child (9),
  // a teen (15) or an adult (19). Both policies put these ages in the same bands.
  const birthDate = '2010-06-15';
  const grantDates = { child: '2015-01-01', teen: '2024-01-01', adult: '2029-01-01' } as const;
  const todays = { child: '2020-01-01', teen: '2026-01-01', adult: '2030-01-01' } as const;
  const columns = [
    ['child', 'child'],
    ['child', 'teen'],
    ['child', 'adult'],
    ['teen', 'teen'],
    ['teen', 'adult'],
    ['adult', 'adult'],
  ] as const;
  const n = 'none';
  const b = 'billing';
  const ba = 'billing+appointments';
  const f = 'full';
  type Row = [GrantedBy, FamilyRelationship, GrantLevel, AccessLevel[]];
  // Columns: made as child -> judged child, teen, adult; made as teen -> teen, adult; made as adult -> adult.
  const westmed: Row[] = [
    ['patient', 'guardian', 'full', [n, n, n, f, f, f]],
    ['patient', 'guardian', 'billing', [n, n, n, b, b, b]],
    ['patient', 'other', 'full', [n, n, n, f, f, f]],
    ['patient', 'other', 'billing', [n, n, n, b, b, b]],
    ['guardian', 'guardian', 'full', [f, b, n, b, n, n]],
    ['guardian', 'guardian', 'billing', [b, b, n, b, n, n]],
    ['guardian', 'other', 'full', [f, n, n, n, n, n]],
    ['guardian', 'other', 'billing', [b, n, n, n, n, n]],
    ['staff-legal-authorization', 'guardian', 'full', [f, b, n, b, n, f]],
    ['staff-legal-authorization', 'guardian', 'billing', [b, b, n, b, n, b]],
    ['staff-legal-authorization', 'other', 'full', [f, b, n, b, n, f]],
    ['staff-legal-authorization', 'other', 'billing', [b, b, n, b, n, b]],
  ];
  const westchester: Row[] = [
    ['patient', 'guardian', 'full', [n, n, n, ba, ba, f]],
    ['patient', 'guardian', 'billing', [n, n, n, b, b, b]],
    ['patient', 'other', 'full', [n, n, n, ba, ba, f]],
    ['patient', 'other', 'billing', [n, n, n, b, b, b]],
    ['guardian', 'guardian', 'full', [f, ba, n, ba, n, n]],
    ['guardian', 'guardian', 'billing', [b, b, n, b, n, n]],
    ['guardian', 'other', 'full', [f, n, n, n, n, n]],
    ['guardian', 'other', 'billing', [b, n, n, n, n, n]],
    ['staff-legal-authorization', 'guardian', 'full', [f, ba, n, ba, n, f]],
    ['staff-legal-authorization', 'guardian', 'billing', [b, b, n, b, n, b]],
    ['staff-legal-authorization', 'other', 'full', [f, ba, n, ba, n, f]],
    ['staff-legal-authorization', 'other', 'billing', [b, b, n, b, n, b]],
  ];
  const cases: [string, AgePolicy, Row[]][] = [
    ['westmed', WESTMED_POLICY, westmed],
    ['westchester', WESTCHESTER_POLICY, westchester],
  ];
  for (const [name, policy, rows] of cases) {
    test.each(rows)(`${name}: %s grant to %s at level %s`, (grantedBy, relationship, level, expected) => {
      const actual = columns.map(([grantBand, todayBand]) =>
        effectiveAccessLevel(
          { birthDate, today: todays[todayBand], grant: { level, grantedBy, grantedOn: grantDates[grantBand] }, relationship },
          policy,
        ),
      );
      expect(actual).toEqual(expected);
    });
  }

  test('the default policy is westmed', () => {
    const context = {
      birthDate,
      today: todays.teen,
      grant: { level: 'full', grantedBy: 'guardian', grantedOn: grantDates.child },
      relationship: 'guardian',
    } as const;
    expect(effectiveAccessLevel(context)).toBe('billing');
  });
});

describe('effectiveAccessLevel: the demo family on 2026-11-21', () => {
  const today = '2026-11-21';
  test('Ada (mother) has full access to Ben (9) and billing access to Cara (15); Cara can grant her full', () => {
    const ben = '2017-03-02';
    const cara = '2011-08-19';
    const adaForBen = { level: 'full', grantedBy: 'guardian', grantedOn: '2019-01-10' } as const;
    const adaForCara = { level: 'full', grantedBy: 'guardian', grantedOn: '2019-01-10' } as const;
    expect(effectiveAccessLevel({ birthDate: ben, today, grant: adaForBen, relationship: 'guardian' })).toBe('full');
    expect(effectiveAccessLevel({ birthDate: cara, today, grant: adaForCara, relationship: 'guardian' })).toBe('billing');
    const caraGrantsFull = { level: 'full', grantedBy: 'patient', grantedOn: '2026-11-01' } as const;
    expect(effectiveAccessLevel({ birthDate: cara, today, grant: caraGrantsFull, relationship: 'guardian' })).toBe('full');
    // Westchester: the same guardian grant gives appointments and billing, and Cara cannot raise it.
    expect(effectiveAccessLevel({ birthDate: cara, today, grant: adaForCara, relationship: 'guardian' }, WESTCHESTER_POLICY)).toBe(
      'billing+appointments',
    );
    expect(effectiveAccessLevel({ birthDate: cara, today, grant: caraGrantsFull, relationship: 'guardian' }, WESTCHESTER_POLICY)).toBe(
      'billing+appointments',
    );
  });

  test('Dan, invited by Ada (an adult), has what Ada granted', () => {
    const ada = '1984-04-07';
    for (const level of ['full', 'billing'] as const) {
      const grant = { level, grantedBy: 'patient', grantedOn: '2026-02-01' } as const;
      expect(effectiveAccessLevel({ birthDate: ada, today, grant, relationship: 'other' })).toBe(level);
      expect(effectiveAccessLevel({ birthDate: ada, today, grant, relationship: 'other' }, WESTCHESTER_POLICY)).toBe(level);
    }
  });
});

describe('effectiveAccessLevel: midnight in America/New_York', () => {
  const zone = 'America/New_York';
  const guardianFull = (grantedOn: string) => ({ level: 'full', grantedBy: 'guardian', grantedOn }) as const;
  const at = (instant: string, birthDate: string, policy: AgePolicy, grantedOn = '2016-01-01'): AccessLevel =>
    effectiveAccessLevel({ birthDate, today: todayIn(zone, new Date(instant)), grant: guardianFull(grantedOn), relationship: 'guardian' }, policy);

  test('13th birthday (westmed): full until local midnight, billing from it; 04:30Z is before midnight in January', () => {
    const birth = '2013-01-15';
    expect(at('2026-01-15T04:30:00Z', birth, WESTMED_POLICY)).toBe('full');
    expect(at('2026-01-15T04:59:59.999Z', birth, WESTMED_POLICY)).toBe('full');
    expect(at('2026-01-15T05:00:00Z', birth, WESTMED_POLICY)).toBe('billing');
    // In UTC the birthday would already have started at 00:00Z: the zone matters.
    expect(effectiveAccessLevel({ birthDate: birth, today: todayIn('UTC', new Date('2026-01-15T04:30:00Z')), grant: guardianFull('2016-01-01'), relationship: 'guardian' })).toBe('billing');
  });

  test('13th birthday (westmed) in May: EDT midnight is 04:00Z, so 04:30Z is already the birthday', () => {
    const birth = '2013-05-10';
    expect(at('2026-05-10T03:59:59.999Z', birth, WESTMED_POLICY)).toBe('full');
    expect(at('2026-05-10T04:00:00Z', birth, WESTMED_POLICY)).toBe('billing');
    expect(at('2026-05-10T04:30:00Z', birth, WESTMED_POLICY)).toBe('billing');
  });

  test('12th birthday: westchester drops to appointments and billing, westmed keeps full', () => {
    const birth = '2014-05-10';
    expect(at('2026-05-10T03:59:59Z', birth, WESTCHESTER_POLICY)).toBe('full');
    expect(at('2026-05-10T04:30:00Z', birth, WESTCHESTER_POLICY)).toBe('billing+appointments');
    expect(at('2026-05-10T04:30:00Z', birth, WESTMED_POLICY)).toBe('full');
  });

  test('18th birthday: guardian access ends at local midnight under both policies', () => {
    const birth = '2008-11-21';
    expect(at('2026-11-21T04:30:00Z', birth, WESTMED_POLICY)).toBe('billing');
    expect(at('2026-11-21T04:59:59Z', birth, WESTCHESTER_POLICY)).toBe('billing+appointments');
    expect(at('2026-11-21T05:00:00Z', birth, WESTMED_POLICY)).toBe('none');
    expect(at('2026-11-21T05:00:00Z', birth, WESTCHESTER_POLICY)).toBe('none');
  });

  test('a teen’s own full grant made at 13 survives the 18th birthday (westmed)', () => {
    const birth = '2008-11-21';
    const grant = { level: 'full', grantedBy: 'patient', grantedOn: '2022-03-01' } as const;
    for (const instant of ['2026-11-21T04:30:00Z', '2026-11-21T05:00:00Z']) {
      expect(effectiveAccessLevel({ birthDate: birth, today: todayIn(zone, new Date(instant)), grant, relationship: 'guardian' })).toBe('full');
    }
  });

  test('February 29 birth: the 13th birthday in 2025 is March 1', () => {
    const birth = '2012-02-29';
    expect(at('2025-03-01T04:59:00Z', birth, WESTMED_POLICY)).toBe('full');
    expect(at('2025-03-01T05:00:00Z', birth, WESTMED_POLICY)).toBe('billing');
  });
});

describe('effectiveAccessLevel: odd inputs fail closed', () => {
  const grant = { level: 'full', grantedBy: 'guardian', grantedOn: '2016-01-01' } as const;

  test('a grant dated in the future or before the birth gives nothing', () => {
    expect(effectiveAccessLevel({ birthDate: '2015-01-01', today: '2020-01-01', grant: { ...grant, grantedOn: '2020-01-02' }, relationship: 'guardian' })).toBe('none');
    expect(effectiveAccessLevel({ birthDate: '2017-01-01', today: '2020-01-01', grant, relationship: 'guardian' })).toBe('none');
    expect(effectiveAccessLevel({ birthDate: '2016-01-01', today: '2020-01-01', grant, relationship: 'guardian' })).toBe('full');
  });

  test('a patient grant made the day before the 13th birthday is void; made on the birthday it stands', () => {
    const birthDate = '2013-05-10';
    const made = (grantedOn: string) => ({ level: 'full', grantedBy: 'patient', grantedOn }) as const;
    expect(effectiveAccessLevel({ birthDate, today: '2027-01-01', grant: made('2026-05-09'), relationship: 'other' })).toBe('none');
    expect(effectiveAccessLevel({ birthDate, today: '2027-01-01', grant: made('2026-05-10'), relationship: 'other' })).toBe('full');
  });

  test('a guardian grant made on the 18th birthday gives nothing; a legal authorization made that day stands', () => {
    const birthDate = '2008-05-10';
    const today = '2026-06-01';
    expect(effectiveAccessLevel({ birthDate, today, grant: { ...grant, grantedOn: '2026-05-10' }, relationship: 'guardian' })).toBe('none');
    expect(
      effectiveAccessLevel({ birthDate, today, grant: { level: 'full', grantedBy: 'staff-legal-authorization', grantedOn: '2026-05-10' }, relationship: 'other' }),
    ).toBe('full');
    expect(
      effectiveAccessLevel({ birthDate, today, grant: { level: 'full', grantedBy: 'staff-legal-authorization', grantedOn: '2026-05-09' }, relationship: 'other' }),
    ).toBe('none');
  });

  test('unknown or malformed birth date: own grants and legal authorizations stand, guardian grants do not', () => {
    for (const birthDate of [undefined, 'not-a-date', '2013-02-30']) {
      expect(effectiveAccessLevel({ birthDate, today: '2026-01-01', grant, relationship: 'guardian' })).toBe('none');
      expect(effectiveAccessLevel({ birthDate, today: '2026-01-01', grant: { ...grant, grantedBy: 'patient' }, relationship: 'guardian' })).toBe('full');
      expect(
        effectiveAccessLevel({ birthDate, today: '2026-01-01', grant: { ...grant, level: 'billing', grantedBy: 'staff-legal-authorization' }, relationship: 'other' }),
      ).toBe('billing');
    }
  });

  test('partial birth dates get the least access any birthday they allow would give', () => {
    const ctx = (birthDate: string, today: string, g: typeof grant | { level: 'full'; grantedBy: 'patient'; grantedOn: string } = grant) =>
      effectiveAccessLevel({ birthDate, today, grant: g, relationship: 'guardian' });
    expect(ctx('2013', '2025-12-31')).toBe('full'); // 12 on every reading
    expect(ctx('2013', '2026-01-01')).toBe('billing'); // 13 if born on January 1
    expect(ctx('2013-05', '2026-04-30')).toBe('full');
    expect(ctx('2013-05', '2026-05-01')).toBe('billing');
    expect(ctx('2008', '2026-01-01')).toBe('none');
    // Own grants: void if any reading makes the patient under 13 when granting.
    const own = { level: 'full', grantedBy: 'patient', grantedOn: '2026-06-01' } as const;
    expect(ctx('2013', '2027-01-01', own)).toBe('none');
    expect(ctx('2013-05', '2027-01-01', own)).toBe('full');
    expect(ctx('2013-06', '2027-01-01', own)).toBe('none');
  });

  test('partial birth dates: the breakpoint shortcut equals judging every birthday in the range', () => {
    const order: AccessLevel[] = ['none', 'billing', 'billing+appointments', 'full'];
    const partials = ['2013', '2013-05', '2012-02', '2008-12', '2014-01', '2008-05'];
    const dates = ['2013-05-15', '2025-03-01', '2026-01-01', '2026-05-10', '2027-02-28', '2031-07-04'];
    // The relationship matters only to guardian grants.
    const cases = [
      ['patient', 'guardian'],
      ['guardian', 'guardian'],
      ['guardian', 'other'],
      ['staff-legal-authorization', 'other'],
    ] as const;
    const mismatches: string[] = [];
    let compared = 0;
    for (const policy of [WESTMED_POLICY, WESTCHESTER_POLICY]) {
      for (const partial of partials) {
        for (const today of dates) {
          for (const grantedOn of dates.filter((d) => d <= today)) {
            for (const [grantedBy, relationship] of cases) {
              const grant = { level: 'full', grantedBy, grantedOn } as const;
              const actual = effectiveAccessLevel({ birthDate: partial, today, grant, relationship }, policy);
              const { earliest, latest } = fhirDateBounds(partial)!;
              let expected: AccessLevel = earliest > today ? 'none' : 'full';
              for (let b = earliest; b <= latest && b <= today; b = addDays(b, 1)) {
                const level = effectiveAccessLevel({ birthDate: b, today, grant, relationship }, policy);
                expected = order.indexOf(level) < order.indexOf(expected) ? level : expected;
              }
              compared++;
              if (actual !== expected) {
                mismatches.push(`${policy.name} ${partial} today=${today} grantedOn=${grantedOn} ${grantedBy}/${relationship}: ${actual} != ${expected}`);
              }
            }
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBe(2 * 6 * 21 * 4);
  });

  test('a custom policy whose account age differs from its teen age (westchester bands, COPPA at 13)', () => {
    const policy: AgePolicy = { ...WESTCHESTER_POLICY, minOwnAccountAge: 13 };
    const own = (grantedOn: string) => ({ level: 'full', grantedBy: 'patient', grantedOn }) as const;
    const today = '2027-06-01';
    expect(effectiveAccessLevel({ birthDate: '2014-01-01', today, grant: own('2026-06-01'), relationship: 'other' }, policy)).toBe('none'); // 12
    expect(effectiveAccessLevel({ birthDate: '2013-01-01', today, grant: own('2026-06-01'), relationship: 'other' }, policy)).toBe('billing+appointments');
    expect(effectiveAccessLevel({ birthDate: '2013', today, grant: own('2026-06-01'), relationship: 'other' }, policy)).toBe('none');
    expect(effectiveAccessLevel({ birthDate: '2013', today, grant: own('2026-12-31'), relationship: 'other' }, policy)).toBe('billing+appointments');
    expect(canHaveOwnAccount('2014-05-10', '2026-05-10', policy)).toBe(false);
    expect(ageBandOn('2014-05-10', '2026-05-10', policy)).toBe('teen');
  });

  test('unknown grant kinds, unknown levels and malformed grant dates give nothing; a malformed today throws', () => {
    const base = { birthDate: '2015-01-01', today: '2020-01-01', relationship: 'guardian' } as const;
    expect(effectiveAccessLevel({ ...base, grant: { ...grant, grantedBy: 'neighbour' as GrantedBy } })).toBe('none');
    expect(effectiveAccessLevel({ ...base, grant: { ...grant, level: 'admin' as GrantLevel } })).toBe('none');
    expect(effectiveAccessLevel({ ...base, grant: { ...grant, grantedOn: '2016-02-30' } })).toBe('none');
    expect(() => effectiveAccessLevel({ ...base, today: '2020-01', grant })).toThrow(RangeError);
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
    expect(nextAccessChange('2017-03-02', '2026-11-21', WESTCHESTER_POLICY)).toEqual({ date: '2029-03-02', age: 12, fromBand: 'child', toBand: 'teen' });
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
