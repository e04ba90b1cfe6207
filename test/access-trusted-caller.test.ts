/**
 * A read-by-id or a search takes its caller on trust from the session's previous request and confirms it in the
 * statement that reads (Caller.unconfirmed): for a portal account, that nothing its access was computed from changed
 * (the account, the session, its grants' Consents and RelatedPersons, its enrolments, its patients' records), on the
 * same calendar day, with no grant period starting or ending since. Such a caller must be served exactly what a
 * caller resolved afresh is, and every change must take effect on the very next request.
 */
import type { Bundle, Consent, Observation, Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { agePolicyByName } from '../src/access/age-policy-profiles';
import type { Caller } from '../src/access/caller';
import { staffResolver, userResolver } from '../src/auth/caller-scope';
import { changeGrantLevel, revokeGrant } from '../src/fhir/proxy-grant-store';
import { type AccessFamily, type CallerKey, startAccessFamily, T0, TIME_ZONE } from './support/access-family';

let f: AccessFamily;
beforeAll(async () => {
  f = await startAccessFamily('westmed');
}, 300_000);
afterAll(() => f?.close());

const entries = (bundle: Bundle): string[] =>
  (bundle.entry ?? []).map((e) => `${e.search?.mode} ${e.fullUrl} ${JSON.stringify(e.resource)}`);

/** GET a search (a caller taken on trust from the second time on). */
async function get(token: string, path: string): Promise<{ status: number; entries: string[] }> {
  const res = await f.app.request(`/fhir/${path}`, { token });
  return { status: res.status, entries: res.ok ? entries((await res.json()) as Bundle) : [] };
}

/** The same search as POST _search, whose caller is always resolved afresh. */
async function post(token: string, path: string): Promise<{ status: number; entries: string[] }> {
  const [type, query] = path.split('?');
  const res = await f.app.request(`/fhir/${type}/_search`, {
    token,
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: query ?? '',
  });
  return { status: res.status, entries: res.ok ? entries((await res.json()) as Bundle) : [] };
}

/** The searches of one patient's record; its activity history only for the patient (others' reads of it add events). */
function searchesOf(patientId: string, own: boolean): string[] {
  const patient = `Patient/${patientId}`;
  return [
    ...(own ? [`AuditEvent?patient=${patient}&_sort=-date`] : []),
    `Patient?_id=${patientId}`,
    `Observation?patient=${patient}&_sort=-date`,
    `Communication?subject=${patient}`,
    `DocumentReference?patient=${patient}`,
    `Appointment?patient=${patient}`,
    `ChargeItem?patient=${patient}`,
    `Invoice?patient=${patient}`,
    `Condition?patient=${patient}&_revinclude=Provenance:target`,
    `MedicationRequest?patient=${patient}&_include=MedicationRequest:medication`,
  ];
}

test('taken on trust, Ada (full, and billing for Cara), Dan (full for Ada) and staff are served what they are afresh', async () => {
  f.clock.set(T0);
  let compared = 0;
  let nonEmpty = 0;
  for (const caller of ['ada', 'dan', 'cara', 'staff'] as CallerKey[]) {
    const token = await f.token(caller);
    for (const patient of ['ada', 'ben', 'cara', 'sam'] as const) {
      for (const path of searchesOf(f.patientIds[patient], caller === patient)) {
        const fresh = await post(token, path);
        const first = await get(token, path);
        const trusted = await get(token, path);
        expect({ caller, path, ...first }).toEqual({ caller, path, ...fresh });
        expect({ caller, path, ...trusted }).toEqual({ caller, path, ...fresh });
        compared++;
        if (fresh.entries.length) nonEmpty++;
      }
    }
  }
  expect(compared).toBe(4 * 4 * 9 + 2);
  expect(nonEmpty).toBeGreaterThan(40);
}, 300_000);

describe('what confirms a portal caller taken on trust', () => {
  const options = () => ({ clock: f.clock, timeZone: TIME_ZONE, policy: agePolicyByName('westmed') });
  const holds = async (caller: Caller): Promise<boolean> => {
    const { rows } = await sql<{ ok: boolean }>`select ${caller.unconfirmed!.condition} as ok`.execute(f.app.database.db);
    return rows[0].ok;
  };
  /** A caller taken on trust, after a first resolution that it remembers. */
  async function trusted(account: string): Promise<Caller> {
    const resolve = userResolver(f.app.database.db, options());
    const first = await resolve(account, {}, { confirmedInStatement: true });
    expect(first.unconfirmed).toBeUndefined();
    const second = await resolve(account, {}, { confirmedInStatement: true });
    expect(second.unconfirmed).toBeDefined();
    expect(second.scope).toBe(first.scope);
    // Other requests are never taken on trust.
    expect((await resolve(account, {})).unconfirmed).toBeUndefined();
    return second;
  }

  test('holds while nothing changed, also when other records change', async () => {
    f.clock.set(T0);
    const ada = await trusted(f.accountIds.ada);
    await f.system.create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Weight' },
      subject: { reference: `Patient/${f.patientIds.sam}` },
    });
    expect(await holds(ada)).toBe(true);
  });

  test('fails when the account is disabled or renamed', async () => {
    f.clock.set(T0);
    const ada = await trusted(f.accountIds.ada);
    const db = f.app.database.db;
    await db.updateTable('account').set({ display_name: 'Ada P.' }).where('id', '=', f.accountIds.ada).execute();
    expect(await holds(ada)).toBe(false);
    await db.updateTable('account').set({ display_name: 'ada.park' }).where('id', '=', f.accountIds.ada).execute();
    expect(await holds(ada)).toBe(true);
    await db.updateTable('account').set({ disabled_at: new Date() }).where('id', '=', f.accountIds.ada).execute();
    expect(await holds(ada)).toBe(false);
    await db.updateTable('account').set({ disabled_at: null }).where('id', '=', f.accountIds.ada).execute();
  });

  test('fails when a grant, a patient of the scope or an enrolment changes', async () => {
    f.clock.set(T0);
    const db = f.app.database.db;
    // A grant's Consent changed (a new version).
    let ada = await trusted(f.accountIds.ada);
    await changeGrantLevel(f.system, f.consents.adaForCara, 'full');
    expect(await holds(ada)).toBe(false);
    await changeGrantLevel(f.system, f.consents.adaForCara, 'billing');
    // A patient of the scope changed (any new version: a birth date moves the age rules).
    ada = await trusted(f.accountIds.ada);
    const ben = await f.system.read<Patient>('Patient', f.patientIds.ben);
    await f.system.update<Patient>({ ...ben, gender: ben.gender === 'male' ? 'other' : 'male' });
    expect(await holds(ada)).toBe(false);
    await f.system.update<Patient>(ben);
    // An enrolment at a further practice, or the end of one.
    ada = await trusted(f.accountIds.ada);
    await db
      .insertInto('account_record')
      .values({
        account_id: f.accountIds.ada,
        patient_id: f.patientIds.sam,
        organization_id: null,
        linked_at: new Date(T0),
        ended_at: new Date(T0),
      })
      .execute();
    expect(await holds(ada)).toBe(false);
    await db.deleteFrom('account_record').where('account_id', '=', f.accountIds.ada).execute();
    // Dan's grant from Ada, revoked.
    const dan = await trusted(f.accountIds.dan);
    const consent = await f.system.read<Consent>('Consent', f.consents.danForAda);
    await f.system.update<Consent>({ ...consent, dateTime: consent.dateTime });
    expect(await holds(dan)).toBe(true);
    await f.system.update<Consent>({ ...consent, status: 'inactive' });
    expect(await holds(dan)).toBe(false);
    await f.system.update<Consent>({ ...consent, status: 'active' });
  });

  test('is not offered to a session idle for longer than an access token lives', async () => {
    f.clock.set(T0);
    const resolve = userResolver(f.app.database.db, options());
    await resolve(f.accountIds.ada, {}, { confirmedInStatement: true });
    f.clock.set('2026-03-01T20:14:00Z');
    expect((await resolve(f.accountIds.ada, {}, { confirmedInStatement: true })).unconfirmed).toBeDefined();
    // Fifteen minutes on from its last request: resolved afresh, then trusted again.
    f.clock.set('2026-03-01T20:29:01Z');
    expect((await resolve(f.accountIds.ada, {}, { confirmedInStatement: true })).unconfirmed).toBeUndefined();
    expect((await resolve(f.accountIds.ada, {}, { confirmedInStatement: true })).unconfirmed).toBeDefined();
    f.clock.set(T0);
  });

  test('is not offered on another calendar day, nor past the start or end of a grant period', async () => {
    f.clock.set(T0);
    const resolve = userResolver(f.app.database.db, options());
    await resolve(f.accountIds.ada, {}, { confirmedInStatement: true });
    // Midnight in the practice's time zone (T0 is noon in Seattle): ages, and so levels, may have changed.
    f.clock.set('2026-03-02T08:00:01Z');
    expect((await resolve(f.accountIds.ada, {}, { confirmedInStatement: true })).unconfirmed).toBeUndefined();
    expect((await resolve(f.accountIds.ada, {}, { confirmedInStatement: true })).unconfirmed).toBeDefined();
    // A grant that ends in an hour: trusted until then, not after.
    f.clock.set(T0);
    const consent = await f.system.read<Consent>('Consent', f.consents.danForAda);
    await f.system.update<Consent>({ ...consent, provision: { ...consent.provision, period: { end: '2026-03-01T21:00:00Z' } } });
    f.clock.set('2026-03-01T20:50:00Z');
    await resolve(f.accountIds.dan, {}, { confirmedInStatement: true });
    f.clock.set('2026-03-01T20:59:00Z');
    expect((await resolve(f.accountIds.dan, {}, { confirmedInStatement: true })).unconfirmed).toBeDefined();
    f.clock.set('2026-03-01T21:00:01Z');
    const after = await resolve(f.accountIds.dan, {}, { confirmedInStatement: true });
    expect(after.unconfirmed).toBeUndefined();
    expect(after.scope.patients.has(f.patientIds.ada)).toBe(false);
    f.clock.set(T0);
    await f.system.update<Consent>(consent);
  });

  test('a staff account taken on trust fails when it moves to another organisation', async () => {
    f.clock.set(T0);
    const resolve = staffResolver(f.app.database.db, options());
    await resolve(f.accountIds.staff, {}, { confirmedInStatement: true });
    const staff = await resolve(f.accountIds.staff, {}, { confirmedInStatement: true });
    expect(staff.unconfirmed).toBeDefined();
    expect(await holds(staff)).toBe(true);
    const db = f.app.database.db;
    await db.updateTable('account').set({ organization_id: f.organizationIds.other }).where('id', '=', f.accountIds.staff).execute();
    expect(await holds(staff)).toBe(false);
    await db.updateTable('account').set({ organization_id: f.organizationIds.westside }).where('id', '=', f.accountIds.staff).execute();
  });
});

describe('changes take effect on the next search of a caller taken on trust', () => {
  const observationsOf = (patient: 'ada' | 'ben' | 'cara') => `Observation?patient=Patient/${f.patientIds[patient]}`;

  test('a level changed, and a grant revoked', async () => {
    f.clock.set(T0);
    const dan = await f.token('dan');
    const shown = await post(dan, observationsOf('ada'));
    expect(shown.entries.length).toBeGreaterThan(0);
    expect(await get(dan, observationsOf('ada'))).toEqual(shown);
    expect(await get(dan, observationsOf('ada'))).toEqual(shown);
    await changeGrantLevel(f.system, f.consents.danForAda, 'billing');
    expect(await get(dan, observationsOf('ada'))).toEqual({ status: 200, entries: [] });
    expect(await get(dan, observationsOf('ada'))).toEqual({ status: 200, entries: [] });
    await changeGrantLevel(f.system, f.consents.danForAda, 'full');
    expect(await get(dan, observationsOf('ada'))).toEqual(shown);
    await revokeGrant(f.system, f.consents.danForAda);
    expect(await get(dan, observationsOf('ada'))).toEqual({ status: 200, entries: [] });
  });

  test("Ben's 13th birthday at the practice's midnight, and a birth date corrected", async () => {
    f.clock.set(T0);
    const ben = await f.system.read<Patient>('Patient', f.patientIds.ben);
    // Ben turns 13 on this local date: the guardian's full grant becomes billing (westmed).
    const birthday = `${Number(ben.birthDate!.slice(0, 4)) + 13}${ben.birthDate!.slice(4)}`;
    const midnight = new Date(`${birthday}T08:00:00Z`); // midnight in Seattle in winter, 01:00 in summer: 2 h either side holds
    f.clock.set(new Date(midnight.getTime() - 3_600_000 * 2));
    expect((await get(await f.token('ada'), observationsOf('ben'))).entries.length).toBeGreaterThan(0);
    expect((await get(await f.token('ada'), observationsOf('ben'))).entries.length).toBeGreaterThan(0);
    f.clock.set(new Date(midnight.getTime() + 3_600_000 * 2));
    expect(await get(await f.token('ada'), observationsOf('ben'))).toEqual({ status: 200, entries: [] });
    // Back to today, then a birth date moved by staff: Ben is 13 at once.
    f.clock.set(T0);
    const ada = await f.token('ada');
    expect((await get(ada, observationsOf('ben'))).entries.length).toBeGreaterThan(0);
    expect((await get(ada, observationsOf('ben'))).entries.length).toBeGreaterThan(0);
    await f.system.update<Patient>({ ...ben, birthDate: '2012-01-01' });
    expect(await get(ada, observationsOf('ben'))).toEqual({ status: 200, entries: [] });
    await f.system.update<Patient>(ben);
    expect((await get(ada, observationsOf('ben'))).entries.length).toBeGreaterThan(0);
  });

  test('a disabled account gets its 401 on the next search, before a bad query could say anything', async () => {
    f.clock.set(T0);
    const token = await f.token('cara');
    expect((await get(token, observationsOf('cara'))).status).toBe(200);
    expect((await get(token, observationsOf('cara'))).status).toBe(200);
    const db = f.app.database.db;
    await db.updateTable('account').set({ disabled_at: new Date() }).where('id', '=', f.accountIds.cara).execute();
    try {
      expect((await get(token, observationsOf('cara'))).status).toBe(401);
      expect((await get(token, 'Observation?no-such-parameter=1')).status).toBe(401);
    } finally {
      await db.updateTable('account').set({ disabled_at: null }).where('id', '=', f.accountIds.cara).execute();
    }
  });
});
