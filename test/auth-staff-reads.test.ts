/**
 * A staff account's read-by-id takes the account as it was on the previous request and confirms it in the read's
 * own statement (Caller.unconfirmed): these are the cases where it must not be taken on trust. Signing out,
 * disabling the account, moving it to another organisation or renaming it applies on the very next read.
 */
import type { AuditEvent, Observation, Organization } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { unrestrictedScope } from '../src/access/access-scope';
import { CallerChanged, Repository } from '../src/fhir/repository';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';

describe('a staff account read-by-id taken on trust', () => {
  let app: AuthTestApp;
  let adaObservation: string;
  let adaId: string;
  const MAYA = DEMO_PEOPLE.mayaChen.email as string;

  beforeAll(async () => {
    app = await startAuthTestApp();
    adaId = (await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD)).account.patientId;
    const [observation] = await app.system.searchResources<Observation>('Observation', { patient: `Patient/${adaId}`, _count: '1' });
    adaObservation = `/fhir/Observation/${observation.id}`;
  });
  afterAll(() => app?.close());

  /** Reads twice, so the second read is one taken on trust. */
  async function signedInReader(): Promise<{ token: string; refresh: string; accountId: string }> {
    const session = await app.login(MAYA, DEMO_PASSWORD);
    for (let i = 0; i < 2; i++) expect((await app.call('GET', adaObservation, { token: session.access_token })).status).toBe(200);
    return { token: session.access_token, refresh: session.refresh_token, accountId: session.account.id };
  }

  it('signing out applies on the next read: 401, with the reason and WWW-Authenticate', async () => {
    const maya = await signedInReader();
    expect((await app.call('POST', '/auth/logout', { json: { refresh_token: maya.refresh } })).status).toBe(204);
    const res = await app.call('GET', adaObservation, { token: maya.token });
    expect([res.status, outcomeText(res.body), res.headers.get('www-authenticate')]).toEqual([
      401,
      'This session has been signed out',
      'Bearer error="invalid_token"',
    ]);
    // Also for a read that fails before any statement runs: the 401 comes first.
    expect((await app.call('GET', '/fhir/NoSuchType/1', { token: maya.token })).status).toBe(401);
  });

  it('disabling the account applies on the next read', async () => {
    const maya = await signedInReader();
    await sql`update account set disabled_at = now() where id = ${maya.accountId}`.execute(app.database.db);
    try {
      const res = await app.call('GET', adaObservation, { token: maya.token });
      expect([res.status, outcomeText(res.body)]).toEqual([401, 'The access token is not valid']);
    } finally {
      await sql`update account set disabled_at = null where id = ${maya.accountId}`.execute(app.database.db);
    }
  });

  it('moving the account to another organisation applies on the next read: the old patients are gone', async () => {
    const maya = await signedInReader();
    const { resource: elsewhere } = await app.system.create<Organization>({ resourceType: 'Organization', name: 'Elsewhere Clinic' });
    const { rows } = await sql<{ organization_id: string }>`select organization_id from account where id = ${maya.accountId}`.execute(
      app.database.db,
    );
    await sql`update account set organization_id = ${elsewhere.id} where id = ${maya.accountId}`.execute(app.database.db);
    try {
      expect((await app.call('GET', adaObservation, { token: maya.token })).status).toBe(404);
      expect((await app.call('GET', adaObservation, { token: maya.token })).status).toBe(404);
    } finally {
      await sql`update account set organization_id = ${rows[0].organization_id} where id = ${maya.accountId}`.execute(app.database.db);
    }
    expect((await app.call('GET', adaObservation, { token: maya.token })).status).toBe(200);
  });

  it('a renamed account is named afresh in the AuditEvents of its next read', async () => {
    const maya = await signedInReader();
    await sql`update account set display_name = 'Dr. Maya Chen-Okafor' where id = ${maya.accountId}`.execute(app.database.db);
    try {
      app.clock.advance(5_000);
      expect((await app.call('GET', adaObservation, { token: maya.token })).status).toBe(200);
      const events = await app.system.searchResources<AuditEvent>('AuditEvent', {
        patient: `Patient/${adaId}`,
        _sort: '-date',
        _count: '1',
      });
      expect(events[0].agent?.[0]).toMatchObject({ name: 'Dr. Maya Chen-Okafor', altId: maya.accountId });
    } finally {
      await sql`update account set display_name = ${DEMO_PEOPLE.mayaChen.displayName} where id = ${maya.accountId}`.execute(
        app.database.db,
      );
    }
  });

  it('the repository refuses every call but reads by id and searches for a caller taken on trust', async () => {
    const onTrust = (holds: boolean) =>
      new Repository(app.database.db, {
        scope: unrestrictedScope('test'),
        clock: app.clock,
        fhirBase: 'http://test/fhir',
        unconfirmed: holds ? sql<boolean>`true` : sql<boolean>`false`,
      });
    const repo = onTrust(true);
    await expect(repo.history('Observation', undefined)).rejects.toThrow('taken on trust');
    await expect(repo.create({ resourceType: 'Organization', name: 'Nope' })).rejects.toThrow('taken on trust');
    await expect(repo.transaction(() => Promise.resolve(undefined))).rejects.toThrow('taken on trust');
    await expect(repo.readStored('Observation', adaObservation.split('/')[3])).resolves.toMatchObject({ type: 'Observation' });
    expect(repo.callerConfirmed).toBe(true);
    // A search confirms the caller in the page's own statement, and serves nothing when the condition fails.
    const searching = onTrust(true);
    expect((await searching.searchResources('Observation')).length).toBeGreaterThan(0);
    expect(searching.callerConfirmed).toBe(true);
    const changed = onTrust(false);
    await expect(changed.searchResources('Observation')).rejects.toThrow(CallerChanged);
    await expect(changed.readStored('Observation', adaObservation.split('/')[3])).rejects.toThrow(CallerChanged);
    expect(changed.callerConfirmed).toBe(false);
  });
});
