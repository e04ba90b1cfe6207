import type { Consent, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { FixedClock } from './clock';
import { Repository } from './repository';
import { unrestrictedScope } from '../access/access-scope';
import { ACCESS_LEVEL_EXTENSION, ACCOUNT_IDENTIFIER_SYSTEM, consentToGrant, GRANTED_BY_EXTENSION } from '../access/proxy-grants';
import { changeGrantLevel, grantAccess, grantsOfAccount, grantsOfPatient, revokeGrant } from './proxy-grant-store';

let database: TestDatabase;
let repo: Repository;
let ada: Patient;
let ben: Patient;
const clock = new FixedClock(new Date('2026-03-01T18:00:00Z'));

beforeAll(async () => {
  database = await openTestDatabase();
  repo = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: 'http://test/fhir' });
  ada = (await repo.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Park', given: ['Ada'] }], birthDate: '1984-03-14' }))
    .resource;
  ben = (await repo.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Park', given: ['Ben'] }], birthDate: '2017-11-23' }))
    .resource;
});
afterAll(() => database.close());

const dan = { name: 'Dan Reyes', email: 'dan.reyes@example.com', relationship: 'DOMPART' };

test('grantAccess writes a RelatedPerson with the account id and an active Consent of the contract shape', async () => {
  const { consent, relatedPerson } = await grantAccess(repo, {
    patientId: ada.id!,
    accountId: 'acct-dan',
    grantee: dan,
    level: 'full',
    grantedBy: 'patient',
    performer: `Patient/${ada.id}`,
  });
  expect(relatedPerson).toMatchObject({
    resourceType: 'RelatedPerson',
    identifier: [{ system: ACCOUNT_IDENTIFIER_SYSTEM, value: 'acct-dan' }],
    active: true,
    patient: { reference: `Patient/${ada.id}` },
    relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'DOMPART' }] }],
    name: [{ text: 'Dan Reyes' }],
    telecom: [{ system: 'email', value: 'dan.reyes@example.com' }],
  });
  expect(consent).toMatchObject({
    status: 'active',
    scope: { coding: [{ code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${ada.id}` },
    dateTime: '2026-03-01T18:00:00.000Z',
    performer: [{ reference: `Patient/${ada.id}` }],
    policyRule: { coding: [{ code: 'OPTIN' }] },
    provision: {
      type: 'permit',
      actor: [{ role: { coding: [{ code: 'DOMPART' }] }, reference: { reference: `RelatedPerson/${relatedPerson.id}` } }],
    },
    extension: [
      { url: ACCESS_LEVEL_EXTENSION, valueCode: 'full' },
      { url: GRANTED_BY_EXTENSION, valueCode: 'patient' },
    ],
  });
  expect(consentToGrant(consent)).toEqual({
    consentId: consent.id,
    patientId: ada.id,
    relatedPersonId: relatedPerson.id,
    level: 'full',
    grantedBy: 'patient',
    granted: '2026-03-01T18:00:00.000Z',
    active: true,
  });
  const held = await grantsOfAccount(database.db, 'acct-dan');
  expect(held.map((g) => [g.consentId, g.level, g.active, g.relatedPerson.id])).toEqual([[consent.id, 'full', true, relatedPerson.id]]);
});

test('granting again reuses the RelatedPerson and retires the previous Consent; change level and revoke', async () => {
  clock.advance(60_000);
  const first = await grantAccess(repo, {
    patientId: ben.id!,
    accountId: 'acct-ada',
    grantee: { name: 'Ada Park', relationship: 'MTH' },
    level: 'full',
    grantedBy: 'guardian',
    performer: 'Practitioner/staff-1',
  });
  clock.advance(60_000);
  const second = await grantAccess(repo, {
    patientId: ben.id!,
    accountId: 'acct-ada',
    grantee: { name: 'Ada Park', relationship: 'MTH' },
    level: 'billing',
    grantedBy: 'guardian',
    performer: 'Practitioner/staff-1',
  });
  expect(second.relatedPerson.id).toBe(first.relatedPerson.id);
  expect((await repo.read<Consent>('Consent', first.consent.id!)).status).toBe('inactive');
  // Both written at the same instant: order by activity, not by the tie-break on random ids.
  let held = (await grantsOfAccount(database.db, 'acct-ada')).sort((a, b) => Number(b.active) - Number(a.active));
  expect(held.map((g) => [g.consentId, g.level, g.active])).toEqual([
    [second.consent.id, 'billing', true],
    [first.consent.id, 'full', false],
  ]);

  clock.advance(60_000);
  const changed = await changeGrantLevel(repo, second.consent.id!, 'full');
  expect(consentToGrant(changed)).toMatchObject({ level: 'full', grantedBy: 'guardian', granted: second.consent.dateTime, active: true });
  clock.advance(60_000);
  const revoked = await revokeGrant(repo, second.consent.id!);
  expect(revoked.status).toBe('inactive');
  await expect(changeGrantLevel(repo, second.consent.id!, 'billing')).rejects.toMatchObject({ status: 400 });
  held = await grantsOfAccount(database.db, 'acct-ada');
  expect(held.map((g) => g.active)).toEqual([false, false]);
  expect((await grantsOfPatient(repo, ben.id!)).map((g) => [g.consentId, g.active])).toEqual([
    [second.consent.id, false],
    [first.consent.id, false],
  ]);
});

test('a grant on another authority sits beside the first: the teen’s own grant does not retire the guardian’s', async () => {
  clock.advance(60_000);
  const guardian = await grantAccess(repo, {
    patientId: ben.id!,
    accountId: 'acct-dad',
    grantee: { name: 'Dad Park', relationship: 'FTH' },
    level: 'billing',
    grantedBy: 'guardian',
    performer: 'Practitioner/staff-1',
  });
  clock.advance(60_000);
  const own = await grantAccess(repo, {
    patientId: ben.id!,
    accountId: 'acct-dad',
    grantee: { name: 'Dad Park', relationship: 'FTH' },
    level: 'full',
    grantedBy: 'patient',
    performer: `Patient/${ben.id}`,
  });
  expect(own.relatedPerson.id).toBe(guardian.relatedPerson.id);
  const held = await grantsOfAccount(database.db, 'acct-dad');
  expect(held.map((g) => [g.consentId, g.grantedBy, g.level, g.active])).toEqual([
    [own.consent.id, 'patient', 'full', true],
    [guardian.consent.id, 'guardian', 'billing', true],
  ]);
});

test('an existing RelatedPerson can be adopted for the account (the demo family’s "Ada, mother of Ben")', async () => {
  const { resource: mother } = await repo.create<RelatedPerson>({
    resourceType: 'RelatedPerson',
    patient: { reference: `Patient/${ben.id}` },
    name: [{ family: 'Park', given: ['Ada'] }],
    relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'MTH' }] }],
  });
  const { relatedPerson } = await grantAccess(repo, {
    patientId: ben.id!,
    accountId: 'acct-ada-2',
    grantee: { name: 'Ada Park', relationship: 'MTH' },
    level: 'full',
    grantedBy: 'guardian',
    performer: 'Practitioner/staff-1',
    relatedPersonId: mother.id,
  });
  expect(relatedPerson.id).toBe(mother.id);
  expect(relatedPerson.identifier).toEqual([{ system: ACCOUNT_IDENTIFIER_SYSTEM, value: 'acct-ada-2' }]);
  await expect(
    grantAccess(repo, {
      patientId: ada.id!,
      accountId: 'acct-x',
      grantee: dan,
      level: 'full',
      grantedBy: 'patient',
      performer: `Patient/${ada.id}`,
      relatedPersonId: mother.id,
    }),
  ).rejects.toMatchObject({ status: 400 });
});

test('a Consent that names a RelatedPerson of another patient gives nothing; malformed grants read as none', async () => {
  const [danGrant] = await grantsOfAccount(database.db, 'acct-dan');
  // Someone writes a Consent on Ben's record naming Dan's RelatedPerson (which is about Ada).
  await repo.create<Consent>({
    ...(await repo.read<Consent>('Consent', danGrant.consentId)),
    id: undefined,
    meta: undefined,
    patient: { reference: `Patient/${ben.id}` },
  });
  const held = await grantsOfAccount(database.db, 'acct-dan');
  expect(held.map((g) => g.patientId)).toEqual([ada.id]);

  const consent = await repo.read<Consent>('Consent', danGrant.consentId);
  expect(
    consentToGrant({ ...consent, extension: [{ url: ACCESS_LEVEL_EXTENSION, valueCode: 'admin' }, consent.extension![1]] }),
  ).toBeUndefined();
  expect(consentToGrant({ ...consent, extension: [consent.extension![0]] })).toBeUndefined();
  expect(consentToGrant({ ...consent, provision: { ...consent.provision, type: 'deny' } })).toBeUndefined();
  expect(
    consentToGrant({
      ...consent,
      provision: { ...consent.provision, actor: [...consent.provision!.actor!, ...consent.provision!.actor!] },
    }),
  ).toBeUndefined();
});

test('bad requests are refused before anything is written', async () => {
  const base = { patientId: ada.id!, accountId: 'acct-y', grantee: dan, grantedBy: 'patient' as const, performer: `Patient/${ada.id}` };
  await expect(grantAccess(repo, { ...base, level: 'admin' as 'full' })).rejects.toMatchObject({ status: 400 });
  await expect(grantAccess(repo, { ...base, level: 'full', performer: 'Organization/1' })).rejects.toMatchObject({ status: 400 });
  await expect(grantAccess(repo, { ...base, level: 'full', grantee: { ...dan, relationship: 'mother' } })).rejects.toMatchObject({
    status: 400,
  });
  await expect(grantAccess(repo, { ...base, level: 'full', patientId: 'no-such-patient' })).rejects.toMatchObject({ status: 404 });
  expect(await grantsOfAccount(database.db, 'acct-y')).toEqual([]);
});
