/**
 * Issue 20, what the standalone launch left open: staff launching with patient/ scopes search their organisation's
 * patients and choose one; SMART v2 scopes with query parameters narrow reads and searches and never widen them; and a
 * person lists the apps they let in and revokes one, which ends its tokens, refresh tokens and grants at once.
 */
import type { AuditEvent, Observation, Organization, Patient } from '@medplum/fhirtypes';
import * as oidc from 'openid-client';
import { addClient, listClients, removeClient } from '../src/auth/smart/oauth-clients';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { BrowserSession, type SmartTestApp, startSmartTestApp } from './support/smart-test-app';

const REDIRECT_URI = 'http://localhost:9999/callback';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

describe('SMART launch: staff patient choice, scopes with queries, the apps a person let in', () => {
  let app: SmartTestApp;
  let clientId: string;
  let ids: { ada: string; ben: string; cara: string; elsewhere: string };

  beforeAll(async () => {
    app = await startSmartTestApp();
    clientId = (await addClient(app.database.db, { name: 'Chart Viewer', redirectUris: [REDIRECT_URI], public: true })).clientId;
    const patients = await app.system.searchResources<Patient>('Patient', { family: 'Park' });
    const named = (given: string) => patients.find((p) => p.name?.[0]?.given?.[0] === given)?.id as string;
    // A patient of another practice, whom Westside's staff may not choose.
    const other = (await app.system.create<Organization>({ resourceType: 'Organization', name: 'Harbor Clinic Elsewhere' })).resource;
    const elsewhere = (
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Parker', given: ['Zoe'] }],
        birthDate: '1990-01-01',
        managingOrganization: { reference: `Organization/${other.id}` },
      })
    ).resource;
    ids = { ada: named('Ada'), ben: named('Ben'), cara: named('Cara'), elsewhere: elsewhere.id as string };
    expect(ids.ada && ids.ben && ids.cara).toBeTruthy();
  });
  afterAll(() => app?.close());

  const discover = (client = clientId) =>
    oidc.discovery(new URL(app.issuer), client, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });

  /** Starts an authorization as the app; returns where the person goes and what the app keeps. */
  async function authorize(config: oidc.Configuration, scope: string) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      aud: app.fhir,
    });
    return { url, verifier, state };
  }

  /** Signs in on the login page; returns the browser and the consent page. */
  async function signIn(url: URL, email: string) {
    const browser = new BrowserSession(app.url);
    const login = await browser.follow(url.href);
    const action = /action="([^"]+\/login)"/.exec(login.html)?.[1] as string;
    const consent = await browser.follow(action, { form: { email, password: DEMO_PASSWORD } });
    expect(consent.status).toBe(200);
    return { browser, consent };
  }

  /** The radio button's value for the record labelled `label` on a consent page. */
  function choiceFor(html: string, label: string): string | undefined {
    return new RegExp(`value="([^"]+)"(?: required)?(?: checked)?><label for="patient-\\d+"[^>]*>${label}`).exec(html)?.[1];
  }

  /** Approves on the consent page (choosing `patient` when given) and exchanges the code. */
  async function approve(
    config: oidc.Configuration,
    started: { verifier: string; state: string },
    browser: BrowserSession,
    html: string,
    patient?: string,
  ) {
    const consentAction = /action="([^"]+\/consent)"/.exec(html)?.[1] as string;
    const done = await browser.follow(consentAction, { form: { decision: 'approve', ...(patient ? { patient } : {}) } });
    expect(done.status).toBe(303);
    return oidc.authorizationCodeGrant(config, new URL(done.location as string), {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
    });
  }

  /** A person's own launch: sign in, choose the record labelled `label`, approve. */
  async function launch(scope: string, email: string, label?: string, client = clientId) {
    const config = await discover(client);
    const started = await authorize(config, scope);
    const { browser, consent } = await signIn(started.url, email);
    const patient = label ? choiceFor(consent.html, label) : undefined;
    if (label) expect(patient).toBeDefined();
    return { config, tokens: await approve(config, started, browser, consent.html, patient), consent };
  }

  /** The matches of a search as Ada sees them with her own sign-in (/auth/login). */
  async function adaSees(query: string): Promise<Observation[]> {
    const ada = await app.login('ada.park@example.com', DEMO_PASSWORD);
    return entries((await app.read(query, ada.access_token)).body);
  }

  const entries = (body: any) => (body.entry ?? []).filter((e: any) => e.search?.mode !== 'include').map((e: any) => e.resource);

  describe('staff choose a patient of their organisation', () => {
    it('searches by name, lists only the organisation’s patients, and the token opens the chosen record only', async () => {
      const config = await discover();
      const started = await authorize(config, 'launch/patient patient/*.rs openid fhirUser');
      const { browser, consent } = await signIn(started.url, 'maya.chen@example.com');
      expect(consent.html).toContain('role="search"');
      expect(consent.html).toContain('Find the patient whose record Chart Viewer should open');
      // Nothing chosen yet: approving is refused with the reason, and the page is drawn again.
      const consentAction = /action="([^"]+\/consent)"/.exec(consent.html)?.[1] as string;
      const refused = await browser.follow(consentAction, { form: { decision: 'approve' } });
      expect(refused.status).toBe(400);
      expect(refused.html).toContain('Find the patient and choose them first');

      const interaction = /action="(\/oauth\/interaction\/[^"?]+)" role="search"/.exec(consent.html)?.[1] as string;
      const found = await browser.follow(`${interaction}?q=Park`);
      expect(found.status).toBe(200);
      expect(found.headers.get('content-security-policy')).toContain("form-action 'self'");
      const labels = [...found.html.matchAll(/<label for="patient-\d+"[^>]*>([^<]+)</g)].map((m) => m[1]);
      expect(labels.some((l) => l.startsWith('Ben Park, born '))).toBe(true);
      expect(labels.some((l) => l.startsWith('Ada Park, born '))).toBe(true);
      expect(labels.some((l) => l.includes('Zoe'))).toBe(false); // Parker of another practice
      const none = await browser.follow(`${interaction}?q=Nobody`);
      expect(none.html).toContain('No patient of your organisation matches');

      // A patient of another practice, posted by hand, is refused.
      const forged = await browser.follow(consentAction, { form: { decision: 'approve', patient: ids.elsewhere } });
      expect(forged.status).toBe(400);
      expect(forged.html).toContain('Choose one of the patients found');

      const again = await browser.follow(`${interaction}?q=Park`);
      const tokens = await approve(config, started, browser, again.html, choiceFor(again.html, 'Ben Park'));
      expect(tokens.patient).toBe(ids.ben);
      expect((tokens.scope ?? '').split(' ').sort()).toEqual(['fhirUser', 'launch/patient', 'openid', 'patient/*.rs']);
      expect(tokens.claims()?.fhirUser).toMatch(/\/fhir\/Practitioner\//);
      const shots = await app.read(`Immunization?patient=${ids.ben}`, tokens.access_token);
      expect(entries(shots.body).length).toBeGreaterThan(0);
      // Maya's organisation manages Ada too, but the token opens Ben's record only.
      expect(entries((await app.read(`Condition?patient=${ids.ada}`, tokens.access_token)).body)).toEqual([]);
      expect((await app.read(`Patient/${ids.ada}`, tokens.access_token)).status).toBe(404);
      expect((await app.read(`Patient/${ids.ben}`, tokens.access_token)).status).toBe(200);
    });

    it('audits the patients a staff search on the consent page lists, as a search of the FHIR API is audited', async () => {
      const ada = await app.system.read<Patient>('Patient', ids.ada);
      const quinn = (
        await app.system.create<Patient>({
          resourceType: 'Patient',
          name: [{ family: 'Quillfeather', given: ['Quinn'] }],
          birthDate: '1980-02-02',
          managingOrganization: ada.managingOrganization,
        })
      ).resource;
      const events = () => app.system.searchResources<AuditEvent>('AuditEvent', { patient: `Patient/${quinn.id}` });
      expect(await events()).toEqual([]);
      const started = await authorize(await discover(), 'launch/patient patient/*.rs openid fhirUser');
      const { browser, consent } = await signIn(started.url, 'maya.chen@example.com');
      const interaction = /action="(\/oauth\/interaction\/[^"?]+)" role="search"/.exec(consent.html)?.[1] as string;
      const found = await browser.follow(`${interaction}?q=Quillfeather`);
      expect(found.html).toContain('Quinn Quillfeather, born 1980-02-02');
      const audited = await events();
      expect(audited).toHaveLength(1);
      expect(audited[0]).toMatchObject({
        action: 'R',
        subtype: [{ code: 'search-type' }],
        agent: [
          { who: { reference: expect.stringMatching(/^Practitioner\//), display: DEMO_PEOPLE.mayaChen.displayName }, requestor: true },
        ],
      });
      expect(audited[0].entity?.map((e) => e.what?.reference)).toContain(`Patient/${quinn.id}`);
    });
  });

  describe('v2 scopes with query parameters', () => {
    it('narrow reads and searches to the matching resources, and say so in the token response', async () => {
      const lab = `patient/Observation.rs?category=${CATEGORY}|laboratory`;
      const { tokens } = await launch(`launch/patient ${lab}`, 'ada.park@example.com', 'Ada Park');
      expect(tokens.patient).toBe(ids.ada);
      expect(tokens.scope).toBe(`launch/patient ${lab}`);

      // What Ada sees with her own sign-in (released results only), which the app's token may only narrow.
      const all = await adaSees(`Observation?patient=${ids.ada}&_count=500`);
      const isLab = (o: Observation) => o.category?.some((c) => c.coding?.some((k) => k.code === 'laboratory')) ?? false;
      const labs = all.filter(isLab);
      const others = all.filter((o) => !isLab(o));
      expect(labs.length).toBeGreaterThan(0);
      expect(others.length).toBeGreaterThan(0);

      const seen = entries((await app.read(`Observation?patient=${ids.ada}&_count=500`, tokens.access_token)).body);
      expect(seen.map((o: Observation) => o.id).sort()).toEqual(labs.map((o) => o.id).sort());
      // A search asking for more does not get more.
      expect(entries((await app.read(`Observation?patient=${ids.ada}&category=vital-signs`, tokens.access_token)).body)).toEqual([]);
      expect((await app.read(`Observation/${others[0].id}`, tokens.access_token)).status).toBe(404);
      expect((await app.read(`Observation/${labs[0].id}`, tokens.access_token)).status).toBe(200);
      expect((await app.read(`Observation/${others[0].id}/_history`, tokens.access_token)).body.entry ?? []).toEqual([]);
      // Nor does another type or another record.
      expect(entries((await app.read(`Condition?patient=${ids.ada}`, tokens.access_token)).body)).toEqual([]);
      expect(entries((await app.read(`Observation?patient=${ids.ben}`, tokens.access_token)).body)).toEqual([]);
    });

    it('narrow $everything the same way', async () => {
      const lab = `patient/Observation.rs?category=${CATEGORY}|laboratory`;
      const { tokens } = await launch(`launch/patient ${lab} patient/Patient.rs`, 'ada.park@example.com', 'Ada Park');
      const everything = await app.read(`Patient/${ids.ada}/$everything?_count=1000`, tokens.access_token);
      expect(everything.status).toBe(200);
      const types = new Set<string>(everything.body.entry.map((e: any) => e.resource.resourceType));
      expect([...types].sort()).toEqual(['Observation', 'Patient']);
      const observations = everything.body.entry.map((e: any) => e.resource).filter((r: any) => r.resourceType === 'Observation');
      const labs = (await adaSees(`Observation?patient=${ids.ada}&category=laboratory&_count=500`)).map((o) => o.id).sort();
      expect(observations.map((o: Observation) => o.id).sort()).toEqual(labs);
    });

    it('an unfiltered scope of the same type lifts the filter; a query on a parameter that is no token is not granted', async () => {
      const lab = `patient/Observation.rs?category=${CATEGORY}|laboratory`;
      const { tokens } = await launch(`launch/patient ${lab} patient/Observation.rs`, 'ada.park@example.com', 'Ada Park');
      const all = await adaSees(`Observation?patient=${ids.ada}&_count=500`);
      expect(entries((await app.read(`Observation?patient=${ids.ada}&_count=500`, tokens.access_token)).body)).toHaveLength(all.length);

      const dated = await launch('launch/patient patient/Observation.rs?date=gt2020-01-01', 'ada.park@example.com', 'Ada Park');
      expect(dated.consent.html).toContain('not given');
      expect(dated.tokens.scope).toBe('launch/patient');
      expect(entries((await app.read(`Observation?patient=${ids.ada}`, dated.tokens.access_token)).body)).toEqual([]);
    });

    it('a query scope asking to write is granted for reading only', async () => {
      const { tokens } = await launch(
        'launch/patient patient/Communication.cruds?category=notification',
        'ada.park@example.com',
        'Ada Park',
      );
      expect(tokens.scope).toBe('launch/patient patient/Communication.rs?category=notification');
      const write = await fetch(`${app.fhir}/Communication`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokens.access_token}`, 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Communication', status: 'preparation', subject: { reference: `Patient/${ids.ada}` } }),
      });
      expect(write.status).toBe(403);
    });

    it('judge every version in a history or vread by its own content, not by the current version', async () => {
      const category = (code: string) => [{ coding: [{ system: CATEGORY, code }] }];
      const base: Observation = {
        resourceType: 'Observation',
        status: 'final',
        subject: { reference: `Patient/${ids.ada}` },
        code: { text: 'Hemoglobin' },
        valueString: '13.5 g/dL',
      };
      // Filed as a vital sign, then corrected to a lab result; and a lab result later filed as a vital sign.
      const becameLab = (await app.system.create<Observation>({ ...base, category: category('vital-signs') })).resource;
      await app.system.update<Observation>({ ...becameLab, category: category('laboratory') });
      const leftLab = (await app.system.create<Observation>({ ...base, category: category('laboratory') })).resource;
      await app.system.update<Observation>({ ...leftLab, category: category('vital-signs') });
      // A lab result since deleted: its deletion is judged by the version it ended.
      const deletedLab = (await app.system.create<Observation>({ ...base, category: category('laboratory') })).resource;
      await app.system.delete('Observation', deletedLab.id as string);
      const mine = [becameLab.id, leftLab.id, deletedLab.id];

      const { tokens } = await launch(
        `launch/patient patient/Observation.rs?category=${CATEGORY}|laboratory`,
        'ada.park@example.com',
        'Ada Park',
      );
      const versions = async (path: string) => {
        const res = await app.read(path, tokens.access_token);
        expect(res.status).toBe(200);
        return (res.body.entry as any[])
          .map((e) => `${e.request.url.replace(/^Observation$/, `Observation/${e.resource?.id}`)} ${e.response.etag}`)
          .filter((line) => mine.some((id) => line.startsWith(`Observation/${id} `)))
          .sort();
      };
      expect(await versions(`Observation/${becameLab.id}/_history`)).toEqual([`Observation/${becameLab.id} W/"2"`]);
      expect(await versions(`Observation/${leftLab.id}/_history`)).toEqual([`Observation/${leftLab.id} W/"1"`]);
      expect(await versions(`Observation/${deletedLab.id}/_history`)).toEqual([
        `Observation/${deletedLab.id} W/"1"`,
        `Observation/${deletedLab.id} W/"2"`,
      ]);
      const all = [
        `Observation/${becameLab.id} W/"2"`,
        `Observation/${deletedLab.id} W/"1"`,
        `Observation/${deletedLab.id} W/"2"`,
        `Observation/${leftLab.id} W/"1"`,
      ].sort();
      expect(await versions('Observation/_history?_count=1000')).toEqual(all);
      expect(await versions('_history?_count=1000')).toEqual(all);
      // Pages of one entry still reach every admitted version, each once.
      const paged: string[] = [];
      for (let next: string | undefined = 'Observation/_history?_count=1'; next;) {
        const page = await app.read(next, tokens.access_token);
        expect(page.status).toBe(200);
        expect(page.body.entry.length).toBeLessThanOrEqual(1);
        paged.push(
          ...(page.body.entry as any[])
            .map((e) => `${e.request.url.replace(/^Observation$/, `Observation/${e.resource?.id}`)} ${e.response.etag}`)
            .filter((line) => mine.some((id) => line.startsWith(`Observation/${id} `))),
        );
        const link = (page.body.link as any[]).find((l) => l.relation === 'next')?.url as string | undefined;
        next = link?.slice(link.indexOf('/fhir/') + '/fhir/'.length);
      }
      expect(paged.sort()).toEqual(all);

      const vread = async (id: string | undefined, version: number) =>
        (await app.read(`Observation/${id}/_history/${version}`, tokens.access_token)).status;
      expect([await vread(becameLab.id, 1), await vread(becameLab.id, 2)]).toEqual([404, 200]);
      expect([await vread(leftLab.id, 1), await vread(leftLab.id, 2)]).toEqual([200, 404]);
      expect([await vread(deletedLab.id, 1), await vread(deletedLab.id, 2)]).toEqual([200, 410]);
      // The current version decides a read, as before.
      expect((await app.read(`Observation/${becameLab.id}`, tokens.access_token)).status).toBe(200);
      expect((await app.read(`Observation/${leftLab.id}`, tokens.access_token)).status).toBe(404);
    });
  });

  describe('the apps a person let in', () => {
    it('lists them (JSON and FHIR), and revoking one ends its access and refresh tokens at once', async () => {
      // Cara's own app, which Ada's revoking must not touch.
      const caraLaunch = await launch('launch/patient patient/*.rs openid offline_access', 'cara.park@example.com');
      const { config, tokens } = await launch(
        'launch/patient patient/*.rs openid fhirUser offline_access',
        'ada.park@example.com',
        'Ben Park',
      );
      expect(tokens.refresh_token).toBeTruthy();
      const ada = await app.login('ada.park@example.com', DEMO_PASSWORD);
      const get = (path: string, token = ada.access_token, method = 'GET') =>
        fetch(`${app.url}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });

      const listed = (await (await get('/auth/apps')).json()) as any;
      const mine = listed.apps.find((a: any) => a.clientId === clientId);
      expect(mine).toMatchObject({ name: 'Chart Viewer', offline: true });
      expect(mine.patients).toEqual(expect.arrayContaining([ids.ben]));
      expect(mine.scopes).toEqual(expect.arrayContaining(['patient/*.rs', 'offline_access', 'openid']));
      expect(Date.parse(mine.expiresAt)).toBeGreaterThan(Date.parse(mine.grantedAt));

      const fhirList = (await (await get('/fhir/$smart-apps')).json()) as any;
      expect(fhirList.resourceType).toBe('Parameters');
      const part = fhirList.parameter.find((p: any) => p.part.some((q: any) => q.name === 'client' && q.valueString === clientId)).part;
      expect(part).toEqual(
        expect.arrayContaining([
          { name: 'name', valueString: 'Chart Viewer' },
          { name: 'patient', valueReference: { reference: `Patient/${ids.ben}` } },
          { name: 'offline', valueBoolean: true },
        ]),
      );
      // An app does not manage the person's other apps.
      expect((await get('/fhir/$smart-apps', tokens.access_token)).status).toBe(403);

      const revoke = await fetch(`${app.fhir}/$revoke-smart-app`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ada.access_token}`, 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'client', valueString: clientId }] }),
      });
      expect(revoke.status).toBe(200);
      expect(((await revoke.json()) as any).parameter).toEqual(expect.arrayContaining([{ name: 'client', valueString: clientId }]));

      expect((await app.read(`Patient/${ids.ben}`, tokens.access_token)).status).toBe(401);
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(((await (await get('/auth/apps')).json()) as any).apps.filter((a: any) => a.clientId === clientId)).toEqual([]);
      expect((await get(`/auth/apps/${clientId}`, ada.access_token, 'DELETE')).status).toBe(404);

      // Cara's grant to the same app stands, until she revokes it through the JSON API.
      expect((await app.read(`Patient/${ids.cara}`, caraLaunch.tokens.access_token)).status).toBe(200);
      const cara = await app.login('cara.park@example.com', DEMO_PASSWORD);
      expect((await get(`/auth/apps/${clientId}`, cara.access_token, 'DELETE')).status).toBe(204);
      expect((await app.read(`Patient/${ids.cara}`, caraLaunch.tokens.access_token)).status).toBe(401);
      await expect(oidc.refreshTokenGrant(caraLaunch.config, caraLaunch.tokens.refresh_token as string)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      expect((await get('/auth/apps', 'not-a-token')).status).toBe(401);
    });

    it('removing the app (chartkeeper client remove) ends every grant and token it held, and lists it no more', async () => {
      const removable = (await addClient(app.database.db, { name: 'Removed App', redirectUris: [REDIRECT_URI], public: true })).clientId;
      const { config, tokens } = await launch(
        'launch/patient patient/*.rs openid offline_access',
        'ada.park@example.com',
        'Ben Park',
        removable,
      );
      expect((await app.read(`Patient/${ids.ben}`, tokens.access_token)).status).toBe(200);
      const ada = await app.login('ada.park@example.com', DEMO_PASSWORD);
      const listed = async () =>
        (
          (await (await fetch(`${app.url}/auth/apps`, { headers: { Authorization: `Bearer ${ada.access_token}` } })).json()) as any
        ).apps.map((a: any) => a.clientId);
      expect(await listed()).toContain(removable);
      expect(await removeClient(app.database.db, removable)).toBe(true);
      expect((await listClients(app.database.db)).map((c) => c.clientId)).not.toContain(removable);
      expect((await app.read(`Patient/${ids.ben}`, tokens.access_token)).status).toBe(401);
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_client' });
      expect(await listed()).not.toContain(removable);
    });
  });
});
