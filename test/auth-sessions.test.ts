/**
 * Sign-in, sessions and tokens with the demo logins: short-lived access tokens, rotating refresh tokens
 * (reuse revokes the whole session), logout, refused tokens (alg none, wrong key, expired), and the login
 * throttle slowing down and then locking, with the documented default numbers.
 */
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { DEFAULT_ACCOUNT_THROTTLES } from '../src/auth/account-context';
import { generateSigningKey, signAccessToken, signingKeyFromString } from '../src/auth/access-token';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';

const ADA = DEMO_PEOPLE.ada.email as string;

describe('sessions and tokens', () => {
  let app: AuthTestApp;
  beforeAll(async () => {
    app = await startAuthTestApp({ throttles: DEFAULT_ACCOUNT_THROTTLES });
  });
  afterAll(() => app?.close());

  it('signs the demo logins in: patients and family members get user tokens, staff get staff tokens', async () => {
    const ada = await app.login(ADA, DEMO_PASSWORD);
    expect(ada).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      account: { kind: 'patient', displayName: 'Ada Park', securityOption: 'email-code' },
    });
    const claims = JSON.parse(Buffer.from(ada.access_token.split('.')[1], 'base64url').toString());
    expect([claims.sub, claims.kind, claims.exp - claims.iat]).toEqual([ada.account.id, 'user', 900]);
    const maya = await app.login('Maya.Chen@Example.com', DEMO_PASSWORD);
    expect(maya.account).toMatchObject({
      kind: 'staff',
      displayName: 'Dr. Maya Chen',
      practitionerId: expect.any(String),
      organizationId: expect.any(String),
    });
    expect(JSON.parse(Buffer.from(maya.access_token.split('.')[1], 'base64url').toString()).kind).toBe('staff');
    const dan = await app.login(DEMO_PEOPLE.dan.email as string, DEMO_PASSWORD);
    expect(dan.account).toEqual({
      id: expect.any(String),
      email: 'dan.reyes@example.com',
      kind: 'family',
      displayName: 'Dan Reyes',
      securityOption: 'email-code',
    });
    // Dan's grant (Ada's invitation) reaches Ada's record, not Ben's.
    const adaId = ada.account.patientId;
    expect((await app.call('GET', `/fhir/Patient/${adaId}`, { token: dan.access_token })).status).toBe(200);
    const benSearch = await app.call('GET', '/fhir/Patient?family=Park', { token: dan.access_token });
    expect(benSearch.body.entry.map((e: any) => e.resource.id)).toEqual([adaId]);
  });

  it('answers a wrong password and an unknown email alike (401, same text)', async () => {
    const wrong = await app.call('POST', '/auth/login', { json: { email: ADA, password: 'not the password at all' } });
    const unknown = await app.call('POST', '/auth/login', { json: { email: 'nobody@example.com', password: 'not the password at all' } });
    expect([wrong.status, outcomeText(wrong.body)]).toEqual([401, 'The email or password is not correct.']);
    expect([unknown.status, outcomeText(unknown.body)]).toEqual([401, 'The email or password is not correct.']);
    expect((await app.call('POST', '/auth/login', { json: { email: ADA } })).status).toBe(400);
  });

  it('refuses a NUL character or JSON nested too deeply in a body with 400, before any lookup', async () => {
    const nul = await app.call('POST', '/auth/login', { json: { email: 'a\u0000@example.com', password: 'x' } });
    expect([nul.status, outcomeText(nul.body), nul.body.issue[0].expression]).toEqual([
      400,
      'Text may not contain a NUL character (\\u0000)',
      ['email'],
    ]);
    let deep: unknown = 'x';
    for (let i = 0; i < 101; i++) deep = { a: deep };
    const nested = await app.call('POST', '/auth/login', { json: { email: ADA, password: deep } });
    expect([nested.status, outcomeText(nested.body)]).toEqual([400, 'The JSON is nested too deeply (more than 100 levels)']);
    expect((await app.call('POST', '/auth/register', { json: { role: 'patient', lastName: 'Pa\u0000rk' } })).status).toBe(400);
  });

  it('rotates refresh tokens; presenting a used one revokes the whole session', async () => {
    const first = await app.login(ADA, DEMO_PASSWORD);
    const second = await app.call('POST', '/auth/refresh', { json: { refresh_token: first.refresh_token } });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    const reused = await app.call('POST', '/auth/refresh', { json: { refresh_token: first.refresh_token } });
    expect([reused.status, outcomeText(reused.body)]).toEqual([
      401,
      'This refresh token was already used, so the session has been ended for safety. Sign in again.',
    ]);
    const victim = await app.call('POST', '/auth/refresh', { json: { refresh_token: second.body.refresh_token } });
    expect([victim.status, outcomeText(victim.body)]).toEqual([401, 'This session has ended. Sign in again.']);
    expect((await app.call('GET', '/auth/me', { token: second.body.access_token })).status).toBe(401);
    const stored = await app.database.db
      .selectFrom('refresh_token')
      .select(['token_hash', 'revoked_at'])
      .where('account_id', '=', first.account.id)
      .execute();
    expect(stored.every((r) => r.token_hash.length === 43 && !r.token_hash.includes(first.refresh_token))).toBe(true);
  });

  it('logs out: the refresh token is refused and the session’s access token no longer reaches /auth or /fhir', async () => {
    const session = await app.login(ADA, DEMO_PASSWORD);
    expect((await app.call('GET', '/auth/me', { token: session.access_token })).body.email).toBe(ADA);
    const record = `/fhir/Patient/${session.account.patientId}`;
    expect((await app.call('GET', record, { token: session.access_token })).status).toBe(200);
    expect((await app.call('POST', '/auth/logout', { json: { refresh_token: session.refresh_token } })).status).toBe(204);
    expect((await app.call('POST', '/auth/refresh', { json: { refresh_token: session.refresh_token } })).status).toBe(401);
    expect((await app.call('GET', '/auth/me', { token: session.access_token })).status).toBe(401);
    expect((await app.call('GET', record, { token: session.access_token })).status).toBe(401);
    expect((await app.call('POST', '/auth/logout', { json: { refresh_token: session.refresh_token } })).status).toBe(204);
  });

  it('logs out with the access token alone: its session ends, the refresh token with it; no token at all is a 400', async () => {
    const session = await app.login(ADA, DEMO_PASSWORD);
    const other = await app.login(ADA, DEMO_PASSWORD);
    const record = `/fhir/Patient/${session.account.patientId}`;
    expect((await app.call('POST', '/auth/logout', { token: session.access_token })).status).toBe(204);
    expect((await app.call('GET', record, { token: session.access_token })).status).toBe(401);
    expect((await app.call('POST', '/auth/refresh', { json: { refresh_token: session.refresh_token } })).status).toBe(401);
    // Only that session: the same account's other sign-in goes on.
    expect((await app.call('GET', record, { token: other.access_token })).status).toBe(200);
    expect((await app.call('POST', '/auth/logout', { token: session.access_token })).status).toBe(204);
    const none = await app.call('POST', '/auth/logout', { json: {} });
    expect([none.status, outcomeText(none.body)]).toEqual([400, 'refresh_token (or Authorization: Bearer <access token>) is required']);
    const forged = await signAccessToken({ sub: session.account.id, kind: 'user', sid: 'x' }, generateSigningKey(), { clock: app.clock });
    expect((await app.call('POST', '/auth/logout', { token: forged })).status).toBe(401);
    const cli = await signAccessToken({ sub: 'staff:cli', kind: 'staff' }, signingKeyFromString(app.config.signingKey as string), {
      clock: app.clock,
    });
    const noSession = await app.call('POST', '/auth/logout', { token: cli });
    expect([noSession.status, outcomeText(noSession.body)]).toEqual([
      400,
      'This token is not tied to a sign-in session, so there is nothing to log out of',
    ]);
  });

  it('refuses alg none, a wrong key and an expired token; refresh gives a working one', async () => {
    const session = await app.login(ADA, DEMO_PASSWORD);
    const payload = JSON.parse(Buffer.from(session.access_token.split('.')[1], 'base64url').toString());
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
    const wrongKey = await signAccessToken({ sub: session.account.id, kind: 'user' }, generateSigningKey(), { clock: app.clock });
    const patient = `/fhir/Patient/${session.account.patientId}`;
    expect((await app.call('GET', patient, { token: session.access_token })).status).toBe(200);
    for (const token of [none, wrongKey]) {
      const res = await app.call('GET', patient, { token });
      expect([res.status, outcomeText(res.body)]).toEqual([401, 'The access token is not valid']);
      expect((await app.call('GET', '/auth/me', { token })).status).toBe(401);
    }
    app.clock.advance(15 * 60 * 1000);
    const expired = await app.call('GET', patient, { token: session.access_token });
    expect([expired.status, outcomeText(expired.body)]).toEqual([401, 'The access token has expired']);
    const refreshed = await app.call('POST', '/auth/refresh', { json: { refresh_token: session.refresh_token } });
    expect((await app.call('GET', patient, { token: refreshed.body.access_token })).status).toBe(200);
  });

  it('rate-limits registration per email: 3 requests, then 429 for a minute, whatever the answers were', async () => {
    const json = {
      role: 'patient',
      lastName: 'Nobody',
      birthDate: '1980-01-01',
      postalCode: '00000',
      email: 'someone@example.com',
      password: 'correct horse battery staple',
    };
    for (let i = 0; i < 3; i++) expect((await app.call('POST', '/auth/register', { json })).status).toBe(404);
    const limited = await app.call('POST', '/auth/register', { json });
    expect([limited.status, limited.headers.get('retry-after'), outcomeText(limited.body)]).toEqual([
      429,
      '60',
      'Too many registration attempts. Try again in 60 seconds.',
    ]);
    expect((await app.call('POST', '/auth/register', { json: { ...json, email: 'someone.else@example.com' } })).status).toBe(404);
  });

  it('slows down after 3 failures and locks the login for 15 minutes at the 10th (429 + Retry-After)', async () => {
    app.clock.advance(2 * 60 * 60 * 1000); // a clean slate for the address counter
    const cara = DEMO_PEOPLE.cara.email as string;
    const attempt = (password: string) => app.call('POST', '/auth/login', { json: { email: cara, password } });
    for (let i = 0; i < 3; i++) expect((await attempt('wrong password number one')).status).toBe(401);
    const slowed = await attempt('wrong password number one');
    expect([slowed.status, slowed.headers.get('retry-after'), outcomeText(slowed.body)]).toEqual([
      429,
      '1',
      'Too many failed sign-ins. Try again in 1 seconds.',
    ]);
    // Even the right password waits: a throttled attempt is not checked.
    expect((await attempt(DEMO_PASSWORD)).status).toBe(429);
    for (let failures = 3; failures < 10; failures++) {
      app.clock.advance(30_000);
      expect((await attempt('wrong password number one')).status).toBe(401);
    }
    const locked = await attempt(DEMO_PASSWORD);
    expect([locked.status, locked.headers.get('retry-after')]).toEqual([429, '900']);
    expect(outcomeText(locked.body)).toBe(
      'Too many failed sign-ins. Try again in 15 minutes. This is locked for a while to protect the account.',
    );
    // Another account from the same address is not locked: the address counter (10 free, then 1 s) only slows it.
    app.clock.advance(1000);
    expect((await app.call('POST', '/auth/login', { json: { email: ADA, password: DEMO_PASSWORD } })).status).toBe(200);
    app.clock.advance(15 * 60 * 1000);
    expect((await attempt(DEMO_PASSWORD)).status).toBe(200);
  });
});
