/**
 * Issue 20, SMART Backend Services: a registered service gets a token with client_credentials and a private_key_jwt
 * signed by its registered key, and reads its organisation's patients with system/ scopes; a JWT signed by another
 * key, replayed (same jti), expired, or unsigned (`alg: none`) gets no token.
 */
import { randomUUID, webcrypto } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { addClient } from '../src/auth/smart/oauth-clients';
import { DEMO_PASSWORD } from '../fixtures/demo-family';
import { type SmartTestApp, startSmartTestApp } from './support/smart-test-app';

describe('SMART Backend Services', () => {
  let app: SmartTestApp;
  let clientId: string;
  let key: webcrypto.CryptoKey;
  let other: webcrypto.CryptoKey;
  const rs384 = () =>
    webcrypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-384' },
      true,
      ['sign', 'verify'],
    );
  let organizationId: string;

  beforeAll(async () => {
    app = await startSmartTestApp();
    const maya = await app.login('maya.chen@example.com', DEMO_PASSWORD);
    const orgs = (await app.read('Organization?name=Westside', maya.access_token)).body.entry.map((e: any) => e.resource);
    organizationId = orgs[0].id;
    const pair = await rs384();
    key = pair.privateKey;
    ({ privateKey: other } = await rs384());
    const registeredPublic = await exportJWK(pair.publicKey);
    clientId = (
      await addClient(app.database.db, {
        name: 'Population Export',
        redirectUris: [],
        jwks: { keys: [{ ...registeredPublic, kid: 'k1', alg: 'RS384' }] },
        organizationId,
      })
    ).clientId;
  });
  afterAll(() => app?.close());

  /** A client assertion as SMART Backend Services defines it. */
  function assertion(signWith: webcrypto.CryptoKey, claims: { jti?: string; exp?: number } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: claims.jti ?? randomUUID() })
      .setProtectedHeader({ alg: 'RS384', kid: 'k1', typ: 'JWT' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(`${app.issuer}/token`)
      .setIssuedAt(now)
      .setExpirationTime(claims.exp ?? now + 300)
      .sign(signWith);
  }

  /** POST /oauth/token with client_credentials and this assertion. */
  async function tokenRequest(clientAssertion: string, scope = 'system/*.rs'): Promise<{ status: number; body: any }> {
    const res = await fetch(`${app.issuer}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
      }),
    });
    return { status: res.status, body: await res.json() };
  }

  it('a stock client gets a token with private_key_jwt and reads its organisation’s patients', async () => {
    const config = await oidc.discovery(new URL(app.issuer), clientId, undefined, oidc.PrivateKeyJwt({ key: key, kid: 'k1' }), {
      execute: [oidc.allowInsecureRequests],
    });
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'system/*.rs', resource: app.fhir });
    expect(tokens.scope).toBe('system/*.rs');
    const patients = await app.read('Patient?_count=50', tokens.access_token);
    expect(patients.status).toBe(200);
    const names = patients.body.entry.map((e: any) => e.resource.name[0].given[0]).sort();
    expect(names).toEqual(expect.arrayContaining(['Ada', 'Ben', 'Cara']));
  });

  it('system/ scopes narrow by type: system/Observation.rs reads no Patient', async () => {
    const res = await tokenRequest(await assertion(key), 'system/Observation.rs');
    expect(res.status).toBe(200);
    expect((await app.read('Patient?_count=5', res.body.access_token)).body.entry ?? []).toEqual([]);
    expect((await app.read('Observation?_count=5', res.body.access_token)).body.entry.length).toBeGreaterThan(0);
  });

  it('refuses a JWT signed by another key', async () => {
    const res = await tokenRequest(await assertion(other));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('refuses a replayed JWT (the same jti twice)', async () => {
    const jwt = await assertion(key, { jti: randomUUID() });
    expect((await tokenRequest(jwt)).status).toBe(200);
    const again = await tokenRequest(jwt);
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
  });

  it('refuses an expired JWT', async () => {
    const res = await tokenRequest(await assertion(key, { exp: Math.floor(Date.now() / 1000) - 60 }));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('refuses an unsigned JWT (alg none)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${part({ alg: 'none', typ: 'JWT' })}.${part({ iss: clientId, sub: clientId, aud: `${app.issuer}/token`, jti: randomUUID(), exp: now + 300 })}.`;
    const res = await tokenRequest(unsigned);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('gives no user scopes to a backend service', async () => {
    const res = await tokenRequest(await assertion(key), 'user/*.rs patient/*.rs');
    expect(res.status).toBe(200);
    expect(res.body.scope).toBeUndefined();
    expect((await app.read('Patient?_count=5', res.body.access_token)).body.entry ?? []).toEqual([]);
  });
});
