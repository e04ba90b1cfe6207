/**
 * Test support for the account flows: the real app (the same /auth router, account operations and
 * authenticator main.ts wires) on a real database with the demo family and its logins, mail going to a real
 * SMTP server on loopback, and a clock the test moves.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Resource } from '@medplum/fhirtypes';
import type { KyselyPlugin } from 'kysely';
import pino from 'pino';
import { unrestrictedScope } from '../src/access/access-scope';
import { agePolicyByName } from '../src/access/age-policy-profiles';
import { createApp } from '../src/app';
import { accountContext, type AccountThrottles } from '../src/auth/account-context';
import { createAccountServices, type AccountServices } from '../src/portal/account-services';
import { signingKeyFromString } from '../src/auth/access-token';
import { createAuthenticator } from '../src/auth/token-authenticator';
import { type Config, loadConfig, portalConsentRequired } from '../src/config';
import { publishConsentForm, readConsentFormFile } from '../src/portal/enrollment/portal-consent-form';
import { seedDemoFamily } from '../src/demo/seed-demo';
import { stopAuditLog } from '../src/fhir/audit/audit-log';
import { FixedClock } from '../src/fhir/clock';
import { allOperations } from '../src/operations';
import { Repository } from '../src/fhir/repository';
import { authRouter } from '../src/http/auth-router';
import { billingRouter } from '../src/http/billing-router';
import type { StripeSettings } from '../src/portal/billing/stripe-payment-processor';
import { createMailer } from '../src/mail/create-mailer';
import { type LoopbackSmtpServer, type ReceivedMail, startLoopbackSmtpServer } from './support/mail/loopback-smtp-server';
import type { Mailer } from '../src/mail/mailer';
import { openTestDatabase, type TestDatabase } from './support/test-database';

/** scrypt at test cost: the flows hash many passwords; production cost is tested in password-hash.test.ts. */
export const TEST_PASSWORD_PARAMS = Object.freeze({ logN: 10, r: 8, p: 1 });

/** A password every policy check accepts. */
export const GOOD_PASSWORD = 'correct horse battery staple';

/** A running app for the account tests. */
export interface AuthTestApp {
  readonly url: string;
  readonly clock: FixedClock;
  readonly database: TestDatabase;
  readonly config: Config;
  readonly smtp: LoopbackSmtpServer;
  readonly mailer: Mailer;
  readonly services: AccountServices;
  /** A repository that sees everything (to set up and check records). */
  readonly system: Repository;
  /** JSON request; `token` adds a bearer token, `headers` any others. Returns status, headers and the parsed body. */
  call(
    method: string,
    path: string,
    options?: { json?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: any }>;
  /** Signs in and returns the token response. */
  login(email: string, password: string): Promise<any>;
  /** The next mail to `to` received after the given count. */
  mailTo(to: string, after?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** Throttles that never trigger, for tests of other things (the throttle test uses the defaults). */
export const NO_THROTTLE = Object.freeze({
  freeFailures: 1_000_000,
  baseDelayMs: 0,
  maxDelayMs: 0,
  lockAfterFailures: 1_000_000,
  lockMs: 0,
  forgetAfterMs: 0,
});
export const LOOSE_THROTTLES: AccountThrottles = Object.freeze({
  loginAccount: NO_THROTTLE,
  loginAddress: NO_THROTTLE,
  requestAccount: NO_THROTTLE,
  requestAddress: NO_THROTTLE,
});

/** The demo day: ages in the demo family hold on this day. */
export const TEST_NOW = new Date('2026-11-22T18:00:00Z');

/** Boots the app with the demo family seeded, mail to a loopback SMTP server (throttles off unless given). */
export async function startAuthTestApp(
  options: {
    throttles?: Partial<AccountThrottles>;
    now?: Date;
    agePolicy?: 'westmed' | 'westchester';
    portalConsent?: boolean;
    portalUrl?: string;
    stripe?: StripeSettings;
    /** A Kysely plugin every statement of the app passes through (to record them, say). */
    plugin?: KyselyPlugin;
  } = {},
): Promise<AuthTestApp> {
  const clock = new FixedClock(options.now ?? TEST_NOW);
  const smtp = await startLoopbackSmtpServer();
  const opened = await openTestDatabase();
  const database: TestDatabase = options.plugin ? { ...opened, db: opened.db.withPlugin(options.plugin) } : opened;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const signingKey = randomBytes(32).toString('base64');
  const config = loadConfig(
    {},
    {
      host: '127.0.0.1',
      baseUrl: url,
      dataDir: '/nonexistent',
      smtpUrl: smtp.url,
      signingKey,
      timeZone: 'America/Los_Angeles',
      agePolicy: options.agePolicy ?? 'westmed',
      // As the policy says (westchester asks for the portal consent form) unless a test says otherwise.
      portalConsentRequired: options.portalConsent,
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
      portalUrl: options.portalUrl,
      timeZone: config.timeZone,
      policy,
      signingKey: signingKeyFromString(signingKey),
      logger,
      passwordParams: TEST_PASSWORD_PARAMS,
      throttles: options.throttles ?? LOOSE_THROTTLES,
    }),
    options.stripe ? { stripe: options.stripe } : {},
  );
  const system = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: `${url}/fhir` });
  await seedDemoFamily(system, { policy });
  if (portalConsentRequired(config)) await publishConsentForm(system, readConsentFormFile());
  const app = createApp({
    config,
    database,
    clock,
    logger,
    authenticator: await createAuthenticator(config, database, clock),
    operations: allOperations(services),
    routers: [
      { path: '/auth', router: authRouter(services) },
      { path: '/billing', router: billingRouter(services.billing) },
    ],
  });
  server.on('request', app);
  const call: AuthTestApp['call'] = async (method, path, opts = {}) => {
    const headers = new Headers(opts.headers);
    if (opts.token) headers.set('Authorization', `Bearer ${opts.token}`);
    if (opts.json !== undefined) headers.set('Content-Type', 'application/json');
    const res = await fetch(`${url}${path}`, { method, headers, body: opts.json === undefined ? undefined : JSON.stringify(opts.json) });
    const text = await res.text();
    let body: any = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body };
  };
  return {
    url,
    clock,
    database,
    config,
    smtp,
    mailer,
    services,
    system,
    call,
    async login(email, password) {
      const res = await call('POST', '/auth/login', { json: { email, password } });
      if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    mailTo(to, after = 0) {
      return smtp.waitForMail((m) => m.envelopeTo.includes(to) && smtp.received.indexOf(m) >= after);
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await mailer.close();
      await smtp.close();
      await stopAuditLog(database.db);
      await database.close();
    },
  };
}

/** The text of an OperationOutcome's first issue. */
export function outcomeText(body: any): string {
  return body?.issue?.[0]?.details?.text ?? '';
}

/** The value of a named parameter in a Parameters resource. */
export function parameter(body: any, name: string): any {
  const p = body?.parameter?.find((x: any) => x.name === name);
  return p && (p.valueString ?? p.valueCode ?? p.valueBoolean ?? p.valueInteger ?? p.valueReference?.reference ?? p.valueDateTime);
}

/** A Parameters body from a flat record. */
export function parameters(values: Record<string, string>): Resource {
  return { resourceType: 'Parameters', parameter: Object.entries(values).map(([name, valueString]) => ({ name, valueString })) };
}

/** The first URL in a mail's text. */
export function linkIn(mail: ReceivedMail): string {
  const match = /https?:\/\/\S+/.exec(mail.message.text ?? '');
  if (!match) throw new Error(`No link in mail "${mail.message.subject}"`);
  return match[0];
}

/**
 * Registers a patient as the portal does: the registration (202 once the details match), then the link mailed to the
 * address. `confirmed` is the answer to following the link (201, signed in), absent when no link was asked for.
 */
export async function registerThroughLink(
  app: AuthTestApp,
  json: { email: string } & Record<string, unknown>,
): Promise<{ asked: Awaited<ReturnType<AuthTestApp['call']>>; confirmed?: Awaited<ReturnType<AuthTestApp['call']>> }> {
  const before = app.smtp.received.length;
  const asked = await app.call('POST', '/auth/register', { json });
  if (asked.status !== 202) return { asked };
  const token = new URL(linkIn(await app.mailTo(json.email, before))).searchParams.get('token');
  return { asked, confirmed: await app.call('POST', '/auth/register/confirm', { json: { token } }) };
}

/** The passcode (XXXX-XXXX) in a mail's text. */
export function passcodeIn(mail: ReceivedMail): string {
  const match = /^\s{4}([A-Z0-9]{4}-[A-Z0-9]{4})\s*$/m.exec(mail.message.text ?? '');
  if (!match) throw new Error(`No passcode in mail "${mail.message.subject}"`);
  return match[1];
}

/** The 6-digit code in a mail's text. */
export function codeIn(mail: ReceivedMail): string {
  const match = /^\s{4}(\d{6})\s*$/m.exec(mail.message.text ?? '');
  if (!match) throw new Error(`No code in mail "${mail.message.subject}"`);
  return match[1];
}
