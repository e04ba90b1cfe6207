/**
 * Issue 20, SMART App Launch 2.0: discovery, the standalone launch (authorization code + PKCE) driven by a stock
 * OpenID Connect client (openid-client) through the sign-in, record choice and consent pages, the patient context and
 * scopes in the token response, scoped reads on /fhir, refresh token rotation, and the attacks a server must refuse.
 */
import * as oidc from 'openid-client';
import { addClient } from '../src/auth/smart/oauth-clients';
import { DEMO_PASSWORD } from '../fixtures/demo-family';
import { BrowserSession, type SmartTestApp, startSmartTestApp } from './support/smart-test-app';

const REDIRECT_URI = 'http://localhost:9999/callback';

describe('SMART App Launch 2.0', () => {
  let app: SmartTestApp;
  let clientId: string;
  let ids: { ada: string; ben: string; cara: string };

  beforeAll(async () => {
    app = await startSmartTestApp();
    clientId = (await addClient(app.database.db, { name: 'Growth Chart App', redirectUris: [REDIRECT_URI], public: true })).clientId;
    const ada = await app.login('ada.park@example.com', DEMO_PASSWORD);
    const patients = (await app.read('Patient?_count=50', ada.access_token)).body.entry.map((e: any) => e.resource);
    const named = (given: string) => patients.find((p: any) => p.name?.[0]?.given?.[0] === given)?.id as string;
    ids = { ada: named('Ada'), ben: named('Ben'), cara: named('Cara') };
    expect(ids.ben && ids.cara && ids.ada).toBeTruthy();
  });
  afterAll(() => app?.close());

  /** openid-client's view of the server, discovered from its issuer like any app does. */
  const discover = () => oidc.discovery(new URL(app.issuer), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });

  /** Starts an authorization as an app; returns the URL to send the person to and what the app keeps. */
  async function authorize(config: oidc.Configuration, scope: string, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      aud: app.fhir,
      ...extra,
    });
    return { url, verifier, state };
  }

  /** The person signs in, picks a record (by name) and approves; returns the URL the browser lands on at the app. */
  async function signInAndApprove(url: URL, email: string, patientName?: string): Promise<string> {
    const browser = new BrowserSession(app.url);
    const login = await browser.follow(url.href);
    expect(login.status).toBe(200);
    expect(login.html).toContain('Sign in to Chartkeeper');
    expect(login.html).toContain('Growth Chart App');
    expect(login.headers.get('content-security-policy')).toContain("form-action 'self' http://localhost:9999");
    const action = /action="([^"]+\/login)"/.exec(login.html)?.[1] as string;
    const consent = await browser.follow(action, { form: { email, password: DEMO_PASSWORD } });
    expect(consent.status).toBe(200);
    expect(consent.html).toContain('Allow Growth Chart App?');
    const form: Record<string, string> = { decision: 'approve' };
    if (patientName) {
      const radio = new RegExp(`value="([^"]+)"><label for="patient-\\d+"[^>]*>${patientName}`).exec(consent.html);
      expect(radio).not.toBeNull();
      form.patient = radio![1];
    }
    const consentAction = /action="([^"]+\/consent)"/.exec(consent.html)?.[1] as string;
    const done = await browser.follow(consentAction, { form });
    expect(done.status).toBe(303);
    return done.location as string;
  }

  it('serves /.well-known/smart-configuration at the root and under /fhir, without a token', async () => {
    for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
      const res = await fetch(`${app.url}${path}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body).toMatchObject({
        issuer: app.issuer,
        authorization_endpoint: `${app.issuer}/auth`,
        token_endpoint: `${app.issuer}/token`,
        jwks_uri: `${app.issuer}/jwks`,
        code_challenge_methods_supported: ['S256'],
        grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      });
      expect(body.capabilities).toEqual(
        expect.arrayContaining([
          'launch-standalone',
          'client-public',
          'client-confidential-asymmetric',
          'context-standalone-patient',
          'permission-v2',
          'permission-patient',
          'permission-user',
          'sso-openid-connect',
        ]),
      );
      expect(body.scopes_supported).toEqual(
        expect.arrayContaining(['openid', 'fhirUser', 'launch/patient', 'offline_access', 'patient/*.rs']),
      );
    }
  });

  it('declares SMART security in the CapabilityStatement', async () => {
    const cs = (await (await fetch(`${app.fhir}/metadata`)).json()) as any;
    const security = cs.rest[0].security;
    expect(security.service[0].coding).toEqual(
      expect.arrayContaining([{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }]),
    );
    const uris = security.extension.find((e: any) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(uris.extension).toEqual(
      expect.arrayContaining([
        { url: 'authorize', valueUri: `${app.issuer}/auth` },
        { url: 'token', valueUri: `${app.issuer}/token` },
      ]),
    );
  });

  it('standalone launch: code + PKCE, Ada picks Ben, patient context and scopes in the token response, scoped reads, refresh', async () => {
    const config = await discover();
    const { url, verifier, state } = await authorize(config, 'launch/patient patient/*.rs openid fhirUser offline_access');
    const callback = await signInAndApprove(url, 'ada.park@example.com', 'Ben Park');
    expect(callback.startsWith(`${REDIRECT_URI}?`)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.patient).toBe(ids.ben);
    expect((tokens.scope ?? '').split(' ').sort()).toEqual(['fhirUser', 'launch/patient', 'offline_access', 'openid', 'patient/*.rs']);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.refresh_token).toBeTruthy();
    const claims = tokens.claims();
    expect(claims?.fhirUser).toBe(`${app.fhir}/Patient/${ids.ada}`);

    // Ben's immunizations: every one of them, and nothing of anyone else's.
    const shots = await app.read(`Immunization?patient=${ids.ben}`, tokens.access_token);
    expect(shots.status).toBe(200);
    expect(shots.body.entry.length).toBeGreaterThan(0);
    expect(shots.body.entry.every((e: any) => e.resource.patient.reference === `Patient/${ids.ben}`)).toBe(true);
    // patient/ scopes open Ben's record only: not Ada's own, not Cara's.
    expect((await app.read(`Immunization?patient=${ids.ada}`, tokens.access_token)).body.entry ?? []).toEqual([]);
    expect((await app.read(`Condition?patient=${ids.cara}`, tokens.access_token)).body.entry ?? []).toEqual([]);
    expect((await app.read(`Patient/${ids.cara}`, tokens.access_token)).status).toBe(404);
    expect((await app.read(`Patient/${ids.ben}`, tokens.access_token)).status).toBe(200);
    // Read-only scopes: no writes.
    const write = await fetch(`${app.fhir}/Communication`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.access_token}`, 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Communication', status: 'preparation', subject: { reference: `Patient/${ids.ben}` } }),
    });
    expect(write.status).toBe(403);

    // Refresh: a new access token with the same context; the refresh token rotates, the old one is spent.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.patient).toBe(ids.ben);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await app.read(`Immunization?patient=${ids.ben}`, refreshed.access_token)).body.entry.length).toBe(shots.body.entry.length);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('a scope narrower than the account: patient/Observation.rs shows Ben’s Observations and not his Immunizations', async () => {
    const config = await discover();
    const { url, verifier, state } = await authorize(config, 'launch/patient patient/Observation.rs');
    const tokens = await oidc.authorizationCodeGrant(config, new URL(await signInAndApprove(url, 'ada.park@example.com', 'Ben Park')), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(tokens.scope).toBe('launch/patient patient/Observation.rs');
    expect((await app.read(`Observation?patient=${ids.ben}`, tokens.access_token)).body.entry.length).toBeGreaterThan(0);
    expect((await app.read(`Immunization?patient=${ids.ben}`, tokens.access_token)).body.entry ?? []).toEqual([]);
  });

  it('a scope wider than the account is granted as the intersection: user/*.cruds gives Ada user/*.rs, and Cara’s clinical data stays hidden', async () => {
    const config = await discover();
    const { url, verifier, state } = await authorize(config, 'user/*.cruds');
    const tokens = await oidc.authorizationCodeGrant(config, new URL(await signInAndApprove(url, 'ada.park@example.com')), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(tokens.scope).toBe('user/*.rs');
    expect(tokens.patient).toBeUndefined();
    // Ada's own record and Ben's (full), Cara's at billing only: her Conditions are not Ada's to see.
    expect((await app.read(`Condition?patient=${ids.ada}`, tokens.access_token)).body.entry.length).toBeGreaterThan(0);
    expect((await app.read(`Condition?patient=${ids.cara}`, tokens.access_token)).body.entry ?? []).toEqual([]);
  });

  it('plain bearer tokens from /auth/login still work beside SMART tokens', async () => {
    const ada = await app.login('ada.park@example.com', DEMO_PASSWORD);
    expect((await app.read(`Immunization?patient=${ids.ada}`, ada.access_token)).body.entry.length).toBeGreaterThan(0);
  });

  describe('refuses token and flow attacks', () => {
    it('a code without the right PKCE verifier', async () => {
      const config = await discover();
      const { url, state } = await authorize(config, 'launch/patient patient/*.rs');
      const callback = new URL(await signInAndApprove(url, 'ada.park@example.com', 'Ben Park'));
      await expect(
        oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: state }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    it('a code used twice, which also revokes what the first use gave', async () => {
      const config = await discover();
      const { url, verifier, state } = await authorize(config, 'launch/patient patient/*.rs');
      const callback = new URL(await signInAndApprove(url, 'ada.park@example.com', 'Ben Park'));
      const first = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
      expect((await app.read(`Patient/${ids.ben}`, first.access_token)).status).toBe(200);
      await expect(
        oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await app.read(`Patient/${ids.ben}`, first.access_token)).status).toBe(401);
    });

    it('a scope escalation: a refresh asking for more than was granted', async () => {
      const config = await discover();
      const { url, verifier, state } = await authorize(config, 'launch/patient patient/Observation.rs openid offline_access');
      const callback = new URL(await signInAndApprove(url, 'ada.park@example.com', 'Ben Park'));
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
      await expect(
        oidc.refreshTokenGrant(config, tokens.refresh_token as string, { scope: 'launch/patient patient/*.rs openid offline_access' }),
      ).rejects.toMatchObject({ error: 'invalid_scope' });
      expect((await app.read(`Immunization?patient=${ids.ben}`, tokens.access_token)).body.entry ?? []).toEqual([]);
    });

    it('an authorization without PKCE, or with the plain method', async () => {
      const config = await discover();
      for (const extra of [{} as Record<string, string>, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }]) {
        const url = oidc.buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI,
          scope: 'patient/*.rs',
          state: 'x',
          aud: app.fhir,
          ...extra,
        });
        const res = await new BrowserSession(app.url).request(url.href);
        expect(res.status).toBe(303);
        const back = new URL(res.location as string);
        expect(back.origin + back.pathname).toBe(REDIRECT_URI);
        expect(back.searchParams.get('error')).toBe('invalid_request');
      }
    });

    it('a redirect_uri that is not registered (no redirect to it)', async () => {
      const config = await discover();
      const { url } = await authorize(config, 'patient/*.rs', { redirect_uri: 'http://localhost:9999/elsewhere' });
      const res = await new BrowserSession(app.url).request(url.href);
      expect(res.status).toBe(400);
      expect(res.location).toBeUndefined();
      expect(res.html).toContain('redirect_uri');
    });

    it('an aud that is not this FHIR server', async () => {
      const config = await discover();
      const { url } = await authorize(config, 'patient/*.rs', { aud: 'https://evil.example/fhir' });
      const res = await new BrowserSession(app.url).request(url.href);
      expect(new URL(res.location as string).searchParams.get('error')).toBe('invalid_target');
    });

    it('a forged or unknown token, and a JWT with alg none', async () => {
      expect((await app.read(`Patient/${ids.ben}`, 'x'.repeat(43))).status).toBe(401);
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'staff:cli', kind: 'staff', iss: 'chartkeeper', aud: 'chartkeeper', exp: 9999999999 })).toString('base64url')}.`;
      expect((await app.read(`Patient/${ids.ben}`, none)).status).toBe(401);
    });
  });
});
