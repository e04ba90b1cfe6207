/**
 * The demo logins on a real database: four accounts with the demo password, the intended grants as Consents
 * on the bundle's own RelatedPersons, seeded once.
 */
import type { Consent } from '@medplum/fhirtypes';
import { DEMO_PASSWORD } from '../../fixtures/demo-family';
import { openTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { unrestrictedScope } from '../access/access-scope';
import { grantsOfAccount } from '../fhir/proxy-grant-store';
import { verifyPassword } from '../auth/password-hash';
import { FixedClock } from '../fhir/clock';
import { Repository } from '../fhir/repository';
import { seedDemoFamily } from './seed-demo';
import { demoLoginLines, seedDemoAccounts } from './seed-demo-accounts';
import { WESTCHESTER_POLICY } from '../access/age-policy-profiles';

describe('demo logins', () => {
  let database: TestDatabase;
  let repo: Repository;
  beforeAll(async () => {
    database = await openTestDatabase();
    repo = new Repository(database.db, {
      scope: unrestrictedScope(),
      clock: new FixedClock(new Date('2026-11-22T18:00:00Z')),
      fhirBase: 'http://localhost/fhir',
    });
    await seedDemoFamily(repo);
  });
  afterAll(() => database?.close());

  it('creates Ada, Cara, Dan and Dr. Chen with the demo password', async () => {
    const accounts = await database.db.selectFrom('account').selectAll().orderBy('email').execute();
    expect(
      accounts.map((a) => [a.email, a.kind, a.display_name, a.patient_id !== null, a.practitioner_id !== null, a.organization_id !== null]),
    ).toEqual([
      ['ada.park@example.com', 'patient', 'Ada Park', true, false, false],
      ['cara.park@example.com', 'patient', 'Cara Park', true, false, false],
      ['dan.reyes@example.com', 'family', 'Dan Reyes', false, false, false],
      ['maya.chen@example.com', 'staff', 'Dr. Maya Chen', false, true, true],
    ]);
    for (const account of accounts) expect(await verifyPassword(DEMO_PASSWORD, account.password_hash as string)).toBe(true);
  });

  it('grants Ada full to Ben and billing to Cara as their mother, and Dan full to Ada by her invitation', async () => {
    const byEmail = async (email: string) =>
      (await database.db.selectFrom('account').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
    const ada = await grantsOfAccount(database.db, await byEmail('ada.park@example.com'));
    const names = async (patientId: string) => ((await repo.read('Patient', patientId)) as any).name[0].given[0];
    const adaGrants = await Promise.all(
      ada.map(async (g) => [await names(g.patientId), g.level, g.grantedBy, g.relatedPerson.relationship?.[0].coding?.[0].code]),
    );
    expect(adaGrants.sort()).toEqual([
      ['Ben', 'full', 'guardian', 'MTH'],
      ['Cara', 'billing', 'guardian', 'MTH'],
    ]);
    const dan = await grantsOfAccount(database.db, await byEmail('dan.reyes@example.com'));
    expect(await Promise.all(dan.map(async (g) => [await names(g.patientId), g.level, g.grantedBy]))).toEqual([['Ada', 'full', 'patient']]);
    const consent = await repo.read<Consent>('Consent', dan[0].consentId);
    expect(consent.performer?.[0].reference).toBe(`Patient/${dan[0].patientId}`);
    // The bundle's RelatedPersons were reused, not duplicated.
    expect((await repo.searchResources('RelatedPerson')).length).toBe(3);
  });

  it('seeds once, and the banner lists the four logins', async () => {
    expect(await seedDemoAccounts(repo)).toEqual([]);
    expect(demoLoginLines()).toEqual([
      '  Demo logins (password chartkeeper-demo; POST /auth/login):',
      '    ada.park@example.com   Ada Park — patient; full access to Ben (9), billing to Cara (15)',
      '    cara.park@example.com  Cara Park — patient (15)',
      '    dan.reyes@example.com  Dan Reyes — family member; full access to Ada (her invitation)',
      '    maya.chen@example.com  Dr. Maya Chen — staff, Westside Family Medicine',
    ]);
    // Under westchester Cara's guardian grant is that policy's "appointments and bill pay", and the banner says so.
    expect(demoLoginLines(WESTCHESTER_POLICY)[1]).toBe(
      '    ada.park@example.com   Ada Park — patient; full access to Ben (9), appointments and bill pay for Cara (15)',
    );
  });
});
