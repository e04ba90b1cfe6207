import express, { Express } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import packageJson from '../package.json';
import { auditTrailFor } from './fhir/audit/audit-trail';
import type { Authenticator, Caller } from './access/caller';
import type { Config } from './config';
import type { Database } from './db/database';
import type { Clock } from './fhir/clock';
import { anyWriteCheck, portalWriteCheck } from './portal/portal-write-check';
import type { FhirOperation } from './fhir/operations/operation';
import { databaseBinaryStoreFor } from './fhir/binary/database-binary-store';
import { Repository } from './fhir/repository';
import type { WritePreparationPool } from './fhir/write-preparation-pool';
import { notFound } from './fhir/outcomes';
import { endpointPolicy } from './fhir/subscriptions/endpoint-policy';
import { requireCaller } from './http/authenticate';
import { cancelOnDisconnect } from './http/cancel-on-disconnect';
import { consentGate } from './http/consent-gate';
import { errorHandler } from './http/error-handler';
import { fhirCors } from './http/fhir-cors';
import { confirmsCallerInStatement, fhirRouter } from './http/fhir-router';
import { healthRouter } from './http/health-router';
import type { ServiceMetrics } from './http/metrics-registry';
import { metricsRouter, requestMetrics } from './http/metrics-router';
import { middlewareChain } from './http/middleware-chain';
import { requestId } from './http/request-id';
import { parseQueryString } from './http/query-string';
import { requestLog } from './http/request-log';

/** Everything the HTTP app is built from; tests pass their own clock, mailer and database. */
export interface AppDeps {
  readonly config: Config;
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  readonly operations: readonly FhirOperation[];
  /** Extra routers mounted before /fhir (e.g. /auth). */
  readonly routers?: readonly { path: string; router: express.Router }[];
  /** Builds the repository of one caller; defaults to a plain Repository with the caller's scope. */
  readonly repositoryFor?: (caller: Caller) => Repository;
  /** Workers that validate large resources off the event loop; without, validation runs in-process. */
  readonly preparation?: WritePreparationPool;
  /** Request, job and mail counters; /metrics serves them when config.metricsToken is set. */
  readonly metrics?: ServiceMetrics;
}

/** Runs `handler` for requests whose path matches `paths` (as its routes would match it), and passes the others on. */
function onPaths(paths: RegExp, handler: express.RequestHandler): express.RequestHandler {
  return (req, res, next) => (paths.test(req.path) ? handler(req, res, next) : next());
}

/** The package version, shown in the CapabilityStatement. */
export const VERSION: string = packageJson.version;

/** Builds the Express app: logging, health, /auth, authenticated /fhir, then one error handler. */
export function createApp(deps: AppDeps): Express {
  const { config, database, clock, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  // Every route reads a query name as its value or the list of its repetitions, never an object (query-string.ts).
  app.set('query parser', parseQueryString);
  app.use(requestId());
  // With info off (LOG_LEVEL=warn) there is no request line to write: no layer for it either.
  if (logger.isLevelEnabled('info')) app.use(requestLog(logger));
  if (deps.metrics) app.use(requestMetrics(deps.metrics));
  // helmet's security headers (nosniff, HSTS, frame and referrer policies...), with a policy for an API: its
  // answers are data, so nothing in them may load or run anything. Answers that are pages or files set their own.
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
      },
    }),
  );
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  // Routers mounted at the root are walked by every request: these two are entered only for their own paths.
  app.use(onPaths(/^\/(healthz|readyz)\/?$/i, healthRouter(database)));
  if (deps.metrics) app.use(onPaths(/^\/metrics\/?$/i, metricsRouter(deps.metrics, config.metricsToken)));
  app.use(cancelOnDisconnect());
  for (const { path, router } of deps.routers ?? []) app.use(path, router);
  const fhirBase = `${config.baseUrl}/fhir`;
  const binaries = databaseBinaryStoreFor(database.kind);
  const subscriptionEndpoints = endpointPolicy(config.subscriptionAllowHosts);
  // One repository per request, with that request's audit trail (AuditEvents for access to others' records).
  const repositoryFor =
    deps.repositoryFor ??
    ((caller: Caller) =>
      new Repository(database.db, {
        scope: caller.scope,
        clock,
        fhirBase,
        audit: auditTrailFor(caller, clock),
        unconfirmed: caller.unconfirmed?.condition,
        unconfirmedTimed: caller.unconfirmed?.timed,
        portalWriteCheck,
        writeCheck: anyWriteCheck,
        maxBinaryBytes: config.maxBinaryBytes,
        binaries,
        preparation: deps.preparation,
        subscriptionEndpoints,
        databaseKind: database.kind,
      }));
  const fhir = fhirRouter({ config, operations: deps.operations, repositoryFor, version: VERSION });
  app.use(
    '/fhir',
    middlewareChain(
      fhirCors(),
      (req, res, next) => (req.path === '/metadata' && req.method === 'GET' ? fhir(req, res, next) : next()),
      requireCaller(deps.authenticator, confirmsCallerInStatement),
      consentGate(fhirBase),
      fhir,
    ),
  );
  app.use((_req, _res, next) => next(notFound('Endpoint')));
  app.use(errorHandler(logger));
  return app;
}
