/**
 * A Chartkeeper with SMART on FHIR wired as main.ts wires it (the /oauth server, discovery, the authenticator that
 * takes both kinds of token) on a real database with the demo family and its logins; and a small browser stand-in
 * (a cookie jar over fetch) that follows an authorization through the sign-in pages as a person would.
 */
import { createServer } from 'node:http';
import pino from 'pino';
import { unrestrictedScope } from '../../src/access/access-scope';
import { agePolicyByName } from '../../src/access/age-policy-profiles';
import { createApp } from '../../src/app';
import { accountContext } from '../../src/auth/account-context';
import { signingKeyFromString } from '../../src/auth/access-token';
import { createSmartAuth, type SmartAuth } from '../../src/auth/smart/smart-auth';
import { createAuthenticator } from '../../src/auth/token-authenticator';
import { type Config, loadConfig } from '../../src/config';
import { seedDemoFamily } from '../../src/demo/seed-demo';
import { stopAuditLog } from '../../src/fhir/audit/audit-log';
import { FixedClock } from '../../src/fhir/clock';
import { Repository } from '../../src/fhir/repository';
import { authRouter } from '../../src/http/auth-router';
import { smartDiscoveryRouter, smartOauthRouter } from '../../src/http/smart-router';
import { createMailer } from '../../src/mail/create-mailer';
import type { Mailer } from '../../src/mail/mailer';
import { allOperations } from '../../src/operations';
import { createAccountServices } from '../../src/portal/account-services';
import { LOOSE_THROTTLES, TEST_NOW, TEST_PASSWORD_PARAMS } from '../auth-test-app';
import { openTestDatabase, type TestDatabase } from './test-database';

/** A running app with SMART on FHIR. */
export interface SmartTestApp {
  readonly url: string;
  readonly issuer: string;
  readonly fhir: string;
  readonly database: TestDatabase;
  readonly smart: SmartAuth;
  readonly system: Repository;
  /** What a job run by the test needs besides the database (the app's clock, mailer and configuration). */
  readonly clock: FixedClock;
  readonly mailer: Mailer;
  readonly config: Config;
  /** Signs in at /auth/login and returns the token response. */
  login(email: string, password: string): Promise<{ access_token: string; account: { patientId?: string } }>;
  /** GET on /fhir with a bearer token: status and parsed body. */
  read(path: string, token: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** Boots the app with SMART wired and the demo family seeded. */
export async function startSmartTestApp(): Promise<SmartTestApp> {
  const clock = new FixedClock(TEST_NOW);
  const database = await openTestDatabase();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const signingKey = Buffer.alloc(32, 7).toString('base64');
  const config = loadConfig(
    {},
    {
      host: '127.0.0.1',
      baseUrl: url,
      dataDir: '/nonexistent',
      signingKey,
      timeZone: 'America/Los_Angeles',
      agePolicy: 'westmed',
      smtpUrl: 'smtp://127.0.0.1:9',
    },
  );
  const logger = pino({ level: 'silent' });
  const mailer = createMailer(config, clock);
  const policy = agePolicyByName(config.agePolicy);
  const services = createAccountServices(
    accountContext({
      db: database.db,
      clock,
      mailer,
      baseUrl: url,
      timeZone: config.timeZone,
      policy,
      signingKey: signingKeyFromString(signingKey),
      logger,
      passwordParams: TEST_PASSWORD_PARAMS,
      throttles: LOOSE_THROTTLES,
    }),
  );
  const system = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: `${url}/fhir` });
  await seedDemoFamily(system);
  const smart = await createSmartAuth({
    db: database.db,
    baseUrl: url,
    sessions: services.sessions,
    scopeOptions: { clock, timeZone: config.timeZone, policy },
    inner: await createAuthenticator(config, database, clock),
  });
  const app = createApp({
    config,
    database,
    clock,
    logger,
    authenticator: smart.authenticator,
    operations: allOperations(services),
    routers: [
      { path: '/auth', router: authRouter(services) },
      { path: '/oauth', router: smartOauthRouter(smart.server, smart.authorization) },
      { path: '/', router: smartDiscoveryRouter(smart.server) },
    ],
  });
  server.on('request', app);
  return {
    url,
    issuer: `${url}/oauth`,
    fhir: `${url}/fhir`,
    database,
    smart,
    system,
    clock,
    mailer,
    config,
    async login(email, password) {
      const res = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      if (res.status !== 200) throw new Error(`login ${email}: ${res.status}`);
      return (await res.json()) as any;
    },
    async read(path, token) {
      const res = await fetch(`${url}/fhir/${path}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+json' } });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await mailer.close();
      await stopAuditLog(database.db);
      await database.close();
    },
  };
}

/** A person's browser, as far as the sign-in pages need one: cookies, forms and redirects followed by hand. */
export class BrowserSession {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly origin: string) {}

  /** One request, redirects not followed; cookies sent and kept. */
  async request(
    target: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<{ status: number; location?: string; html: string; headers: Headers }> {
    const headers = new Headers();
    if (this.cookies.size) headers.set('Cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    let body: string | undefined;
    if (init.form) {
      headers.set('Content-Type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(new URL(target, this.origin), {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, value] = [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1).trim()];
      const expired =
        attributes.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()) ||
        attributes.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = res.headers.get('location') ?? undefined;
    return {
      status: res.status,
      location: location ? new URL(location, this.origin).href : undefined,
      html: await res.text(),
      headers: res.headers,
    };
  }

  /** Follows redirects from `target` while they stay on this origin; returns the last answer (a page, or a redirect away). */
  async follow(
    target: string,
    init: { form?: Record<string, string> } = {},
  ): Promise<{ status: number; location?: string; html: string; url: string; headers: Headers }> {
    let at = new URL(target, this.origin).href;
    let res = await this.request(at, init);
    for (let hops = 0; res.location && new URL(res.location).origin === this.origin && hops < 10; hops++) {
      at = res.location;
      res = await this.request(at);
    }
    return { ...res, url: at };
  }
}
