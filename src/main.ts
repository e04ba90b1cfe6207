import type { Server } from 'node:http';
import { createApp } from './app';
import { agePolicyByName } from './access/age-policy-profiles';
import { accountContext, backgroundSettled } from './auth/account-context';
import { createAccountServices } from './portal/account-services';
import { billingRouter } from './http/billing-router';
import { createAuthenticator, signingKeyFor } from './auth/token-authenticator';
import type { Config } from './config';
import { loadConfig, portalConsentRequired } from './config';
import { publishConsentForm, readConsentFormFile } from './portal/enrollment/portal-consent-form';
import { type Database, openDatabase } from './db/database';
import { migrateToLatest } from './db/migrator';
import { WritePreparationPool } from './fhir/write-preparation-pool';
import { isEmpty, seedDemoFamily } from './demo/seed-demo';
import { demoLoginLines, demoLoginsExist } from './demo/seed-demo-accounts';
import { unrestrictedScope } from './access/access-scope';
import { stopAuditLog } from './fhir/audit/audit-log';
import { systemClock } from './fhir/clock';
import { loadFhirDefinitions } from './fhir/definitions';
import { endpointPolicy } from './fhir/subscriptions/endpoint-policy';
import { allOperations } from './operations';
import type { FhirOperation } from './fhir/operations/operation';
import { Repository } from './fhir/repository';
import { authRouter } from './http/auth-router';
import { createSmartAuth } from './auth/smart/smart-auth';
import { smartDiscoveryRouter, smartOauthRouter } from './http/smart-router';
import { countingMailFailures, createServiceMetrics } from './http/metrics-registry';
import { closeTimedOutConnectionsOnceIdle } from './http/keep-alive-timeout';
import { trackForDrain } from './http/server-drain';
import { jobsWithSchedules, type RunningJobs, startJobs } from './jobs/job-scheduler';
import { createLogger } from './logger';
import { createMailer } from './mail/create-mailer';

/** How a shutdown went. */
export interface ShutdownResult {
  /** Requests still unanswered when the grace period ran out, whose connections were cut (0 after a clean stop). */
  readonly cut: number;
}

/** A running Chartkeeper: where it listens and how to stop it gracefully. */
export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  readonly seeded: boolean;
  /** The demo logins exist in this database (printed in the banner). */
  readonly demoLogins: boolean;
  /** The open database (for tools that drive the server, such as the benchmark). */
  readonly database: Database;
  /** The scheduled jobs (a benchmark pauses the audit pass while another server shares the database). */
  readonly jobs: RunningJobs;
  /**
   * Stops: no new connections from now on, idle keep-alive connections closed, requests in flight answered (with
   * `Connection: close`) and running jobs finished within config.shutdownGraceSeconds, then the database closed.
   */
  close(): Promise<ShutdownResult>;
}

/** Opens the database, migrates, seeds the demo family when the embedded database is empty, and listens. */
export async function startServer(config: Config): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config);
  await migrateToLatest(database.db);
  loadFhirDefinitions();
  const clock = systemClock;
  const fhirBase = `${config.baseUrl}/fhir`;
  let seeded = false;
  const system = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase });
  if (config.seedDemo) {
    if (await isEmpty(system)) {
      await seedDemoFamily(system, { policy: agePolicyByName(config.agePolicy) });
      seeded = true;
    }
  }
  const demoLogins = await demoLoginsExist(system);
  // The practice's portal consent form, when its policy asks for one: a version not published before is published now.
  if (portalConsentRequired(config)) await publishConsentForm(system, readConsentFormFile());
  // Accounts: mail over SMTP_URL or into <dataDir>/outbox, tokens signed with the same key the authenticator checks.
  const metrics = createServiceMetrics(database);
  const mailer = countingMailFailures(createMailer(config, clock), metrics);
  const policy = agePolicyByName(config.agePolicy);
  const accountsContext = accountContext({
    db: database.db,
    clock,
    mailer,
    baseUrl: config.baseUrl,
    portalUrl: config.portalUrl,
    timeZone: config.timeZone,
    policy,
    signingKey: await signingKeyFor(config),
    logger,
  });
  const accounts = createAccountServices(
    accountsContext,
    config.stripeSecretKey && config.stripeWebhookSecret
      ? { stripe: { secretKey: config.stripeSecretKey, webhookSecret: config.stripeWebhookSecret } }
      : {},
  );
  // SMART on FHIR (issue 20): apps sign in at /oauth; /fhir takes their tokens beside the service's own.
  const smart = await createSmartAuth({
    db: database.db,
    baseUrl: config.baseUrl,
    sessions: accounts.sessions,
    scopeOptions: { clock, timeZone: config.timeZone, policy },
    inner: await createAuthenticator(config, database, clock),
  });
  const authenticator = smart.authenticator;
  // Large resources are validated on workers, so one big body does not hold every other request (issue 24 item 5);
  // the workers start with the first such request and stop when idle.
  const preparation = WritePreparationPool.onDemand();
  const app = createApp({
    preparation,
    config,
    database,
    clock,
    logger,
    authenticator,
    // An export's kick-off starts the export job here at once rather than at its next tick.
    operations: startingExports(
      allOperations(accounts, { maxXmlBytes: config.maxXmlBytes, ccdaParseHeapMb: config.ccdaParseHeapMb, timeZone: config.timeZone }),
      () => jobs.runSoon('bulk-export'),
    ),
    routers: [
      { path: '/auth', router: authRouter(accounts) },
      { path: '/billing', router: billingRouter(accounts.billing) },
      { path: '/oauth', router: smartOauthRouter(smart.server, smart.authorization) },
      { path: '/', router: smartDiscoveryRouter(smart.server) },
    ],
    metrics,
  });
  const subscriptionEndpoints = endpointPolicy(config.subscriptionAllowHosts);
  const jobs = startJobs(
    {
      db: database.db,
      clock,
      mailer,
      timeZone: config.timeZone,
      policy,
      baseUrl: config.baseUrl,
      portalUrl: config.portalUrl,
      logger,
      subscriptionEndpoints,
      exportFileTtlSeconds: config.exportFileTtlSeconds,
    },
    jobsWithSchedules(config.jobSchedules),
    (job, outcome, seconds) => metrics.observeJob(job, outcome, seconds),
  );
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  closeTimedOutConnectionsOnceIdle(server);
  const connections = trackForDrain(server);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  let closing: Promise<ShutdownResult> | undefined;
  const close = (): Promise<ShutdownResult> =>
    (closing ??= (async () => {
      const graceMs = config.shutdownGraceSeconds * 1000;
      logger.info({ graceSeconds: config.shutdownGraceSeconds }, 'stopping');
      // Requests and jobs finish side by side, within the same grace period; a job still running when it is over is
      // left to fail as the database closes (its transaction rolls back, and the next start does its work).
      // Mail an answered request promised (a reset link) is sent before the mailer closes.
      const [{ cut }] = await Promise.all([
        connections.drain(graceMs),
        settledWithin(jobs.stop(), graceMs),
        settledWithin(backgroundSettled(accountsContext), graceMs),
      ]);
      if (cut) logger.warn({ cut, graceSeconds: config.shutdownGraceSeconds }, 'grace period over: requests in flight were cut');
      // Each step runs even when one before it fails, and a failure is logged with its reason: the log always ends
      // with 'stopped', saying what did not close cleanly (the process then exits 1).
      const failed: string[] = [];
      const steps: [string, () => Promise<void>][] = [
        ['mail', () => mailer.close()],
        ['validation workers', () => preparation.close()],
        ['audit log', () => stopAuditLog(database.db)],
        ['database', () => database.close()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (err) {
          failed.push(name);
          logger.error({ step: name, reason: err instanceof Error ? err.message : String(err) }, 'stopping: a step failed');
        }
      }
      logger.info({ cut, ...(failed.length ? { failed } : {}) }, 'stopped');
      // The log is written asynchronously; the process exits right after this resolves.
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      if (failed.length) throw new Error(`${failed.join(', ')} did not close cleanly`);
      return { cut };
    })());
  logger.info({ port, database: database.kind }, 'listening');
  return { url: `http://localhost:${port}`, server, seeded, demoLogins, database, jobs, close };
}

/** `npm start`: serve until SIGTERM/SIGINT, then shut down gracefully. */
export async function serveForever(config: Config = loadConfig()): Promise<void> {
  const running = await startServer(config);
  const banner = [
    '',
    `Chartkeeper is running at ${running.url}`,
    `  FHIR API:  ${running.url}/fhir  (CapabilityStatement: ${running.url}/fhir/metadata)`,
    `  Database:  ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`}${running.seeded ? ' — demo family loaded' : ''}`,
    `  Token:     ${tokenCommandFor(config)}   then  curl -H "Authorization: Bearer <token>" ${running.url}/fhir/Patient`,
    `  Accounts:  ${running.url}/auth  (mail: ${config.smtpUrl ? 'SMTP_URL' : `.eml files in ${config.dataDir}/outbox`}; emailed links open ${config.portalUrl ?? config.baseUrl})`,
    `  Policy:    AGE_POLICY=${config.agePolicy}: ${agePolicyByName(config.agePolicy).summary}` +
      (portalConsentRequired(config) ? ' Portal accounts complete the portal consent form first.' : ''),
    ...(running.demoLogins ? demoLoginLines(agePolicyByName(config.agePolicy)) : []),
    '',
  ];
  process.stderr.write(banner.join('\n') + '\n');
  // A second signal while stopping ends the process at once (the handlers are gone, so the default action applies).
  const stop = (): void => {
    // Should closing the database hang, the process still ends soon after the grace period.
    setTimeout(() => process.exit(1), config.shutdownGraceSeconds * 1000 + 10_000).unref();
    running.close().then(
      ({ cut }) => process.exit(cut ? 1 : 0),
      (err) => {
        process.stderr.write(`chartkeeper: stopping failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** The operations, with each `$export` kick-off calling `queued` once its export is in the queue. */
function startingExports(operations: FhirOperation[], queued: () => void): FhirOperation[] {
  return operations.map((op) =>
    op.info.name === 'export'
      ? {
          ...op,
          handle: async (context) => {
            const result = await op.handle(context);
            queued();
            return result;
          },
        }
      : op,
  );
}

/** Waits for work to settle, but no longer than ms. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * The token command that signs with this server's key: the key lives in the data folder (unless SIGNING_KEY
 * is set), so a server on another folder needs `--data-dir` there, or its tokens come back 401.
 */
export function tokenCommandFor(config: Pick<Config, 'dataDir' | 'signingKey'>): string {
  const command = 'npx chartkeeper token --staff';
  if (config.signingKey || config.dataDir === loadConfig({}).dataDir) return command;
  return `${command} --data-dir ${shellQuoted(config.dataDir)}`;
}

function shellQuoted(word: string): string {
  return /^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

if (require.main === module) {
  serveForever().catch((err) => {
    process.stderr.write(`chartkeeper: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
