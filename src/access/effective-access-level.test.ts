/** The decision that guards every record: which level a grant gives today, for both policies. */
import type { AccessLevel, GrantLevel } from './access-level';
import { type AgePolicy, WESTCHESTER_POLICY, WESTMED_POLICY } from './age-policy-profiles';
import { ageBandOn, canHaveOwnAccount, effectiveAccessLevel, type FamilyRelationship, type GrantedBy, todayIn } from './age-policy';
import { addDays, fhirDateBounds } from './calendar-date';

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
    effectiveAccessLevel(
      { birthDate, today: todayIn(zone, new Date(instant)), grant: guardianFull(grantedOn), relationship: 'guardian' },
      policy,
    );

  test('13th birthday (westmed): full until local midnight, billing from it; 04:30Z is before midnight in January', () => {
    const birth = '2013-01-15';
    expect(at('2026-01-15T04:30:00Z', birth, WESTMED_POLICY)).toBe('full');
    expect(at('2026-01-15T04:59:59.999Z', birth, WESTMED_POLICY)).toBe('full');
    expect(at('2026-01-15T05:00:00Z', birth, WESTMED_POLICY)).toBe('billing');
    // In UTC the birthday would already have started at 00:00Z: the zone matters.
    expect(
      effectiveAccessLevel({
        birthDate: birth,
        today: todayIn('UTC', new Date('2026-01-15T04:30:00Z')),
        grant: guardianFull('2016-01-01'),
        relationship: 'guardian',
      }),
    ).toBe('billing');
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
      expect(effectiveAccessLevel({ birthDate: birth, today: todayIn(zone, new Date(instant)), grant, relationship: 'guardian' })).toBe(
        'full',
      );
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
    expect(
      effectiveAccessLevel({
        birthDate: '2015-01-01',
        today: '2020-01-01',
        grant: { ...grant, grantedOn: '2020-01-02' },
        relationship: 'guardian',
      }),
    ).toBe('none');
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
      effectiveAccessLevel({
        birthDate,
        today,
        grant: { level: 'full', grantedBy: 'staff-legal-authorization', grantedOn: '2026-05-10' },
        relationship: 'other',
      }),
    ).toBe('full');
    expect(
      effectiveAccessLevel({
        birthDate,
        today,
        grant: { level: 'full', grantedBy: 'staff-legal-authorization', grantedOn: '2026-05-09' },
        relationship: 'other',
      }),
    ).toBe('none');
  });

  test('unknown or malformed birth date: own grants and legal authorizations stand, guardian grants do not', () => {
    for (const birthDate of [undefined, 'not-a-date', '2013-02-30']) {
      expect(effectiveAccessLevel({ birthDate, today: '2026-01-01', grant, relationship: 'guardian' })).toBe('none');
      expect(
        effectiveAccessLevel({ birthDate, today: '2026-01-01', grant: { ...grant, grantedBy: 'patient' }, relationship: 'guardian' }),
      ).toBe('full');
      expect(
        effectiveAccessLevel({
          birthDate,
          today: '2026-01-01',
          grant: { ...grant, level: 'billing', grantedBy: 'staff-legal-authorization' },
          relationship: 'other',
        }),
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
                mismatches.push(
                  `${policy.name} ${partial} today=${today} grantedOn=${grantedOn} ${grantedBy}/${relationship}: ${actual} != ${expected}`,
                );
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
    expect(effectiveAccessLevel({ birthDate: '2013-01-01', today, grant: own('2026-06-01'), relationship: 'other' }, policy)).toBe(
      'billing+appointments',
    );
    expect(effectiveAccessLevel({ birthDate: '2013', today, grant: own('2026-06-01'), relationship: 'other' }, policy)).toBe('none');
    expect(effectiveAccessLevel({ birthDate: '2013', today, grant: own('2026-12-31'), relationship: 'other' }, policy)).toBe(
      'billing+appointments',
    );
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
