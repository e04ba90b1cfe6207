/**
 * The minimum age for an own account is the policy's: 13 under westmed (default), 12 under westchester. The
 * same 12-year-old is refused by one and registered by the other.
 */
import type { Patient } from '@medplum/fhirtypes';
import { type AuthTestApp, GOOD_PASSWORD, outcomeText, registerThroughLink, startAuthTestApp } from './auth-test-app';

describe.each([
  ['westmed', 403],
  ['westchester', 201],
] as const)('registration of a 12-year-old under %s', (agePolicy, status) => {
  let app: AuthTestApp;
  beforeAll(async () => {
    app = await startAuthTestApp({ agePolicy });
    await app.system.create<Patient>({
      resourceType: 'Patient',
      name: [{ family: 'Young', given: ['Zoe'] }],
      birthDate: '2014-11-01', // 12 on 2026-11-22
      address: [{ postalCode: '98101' }],
    });
  });
  afterAll(() => app?.close());

  it(`answers ${status}`, async () => {
    const { asked, confirmed } = await registerThroughLink(app, {
      role: 'patient',
      lastName: 'Young',
      birthDate: '2014-11-01',
      postalCode: '98101',
      email: 'zoe.young@example.com',
      password: GOOD_PASSWORD,
    });
    const res = confirmed ?? asked;
    expect(res.status).toBe(status);
    if (status === 403) expect(outcomeText(res.body)).toContain('patients under the age of 13 cannot create their own portal accounts');
    else expect([asked.status, res.body.account.displayName]).toEqual([202, 'Zoe Young']);
  });
});
