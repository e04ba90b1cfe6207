import { createServer, type Server } from 'node:http';
import pino from 'pino';
import { createApp, AppDeps } from '../../src/app';
import { stopAuditLog } from '../../src/fhir/audit/audit-log';
import { generateSigningKey, signAccessToken, SigningKey } from '../../src/auth/access-token';
import { TokenAuthenticator } from '../../src/auth/token-authenticator';
import { Config, loadConfig } from '../../src/config';
import { Clock, systemClock } from '../../src/fhir/clock';
import { allOperations } from '../../src/operations';
import { closeTimedOutConnectionsOnceIdle } from '../../src/http/keep-alive-timeout';
import { createServiceMetrics, type ServiceMetrics } from '../../src/http/metrics-registry';
import { openTestDatabase, TestDatabase } from './test-database';

/** A real Chartkeeper app on a real database, listening on a random loopback port. */
export interface TestApp {
  readonly url: string;
  readonly fhir: string;
  /** The HTTP server, set up as main.ts sets up its own. */
  readonly server: Server;
  readonly database: TestDatabase;
  readonly config: Config;
  readonly key: SigningKey;
  /** A bearer token for a staff user. */
  readonly staffToken: string;
  /** The app's metrics, when started with `metrics: true`. */
  readonly metrics?: ServiceMetrics;
  /** fetch against the app with the staff token and FHIR JSON unless told otherwise. */
  request(path: string, init?: RequestInit & { token?: string | null; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** Boots the app the way main.ts does, with a test database and the given overrides. */
export async function startTestApp(
  options: { clock?: Clock; config?: Partial<Config>; deps?: Partial<AppDeps>; metrics?: boolean } = {},
): Promise<TestApp> {
  // STATEMENT_TIMEOUT_MS only when a test sets it: other tests' statements are not to be stopped on a busy machine.
  const database = await openTestDatabase({ statementTimeoutMs: options.config?.statementTimeoutMs });
  const clock = options.clock ?? systemClock;
  // Listen first, so the app's base URL (used in Location headers and links) is the real one.
  const server = createServer();
  closeTimedOutConnectionsOnceIdle(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const config = loadConfig({}, { host: '127.0.0.1', baseUrl: url, dataDir: '/nonexistent', ...options.config });
  const key = generateSigningKey();
  const logger = pino({ level: 'silent' });
  const metrics = options.metrics ? createServiceMetrics(database) : undefined;
  const app = createApp({
    config,
    database,
    clock,
    logger,
    authenticator: new TokenAuthenticator(key, clock),
    operations: allOperations(undefined, { maxXmlBytes: config.maxXmlBytes, ccdaParseHeapMb: config.ccdaParseHeapMb }),
    metrics,
    ...options.deps,
  });
  server.on('request', app);
  const staffToken = await signAccessToken({ sub: 'Practitioner/test-staff', kind: 'staff' }, key, { clock, ttlSeconds: 3600 });
  return {
    url,
    fhir: `${url}/fhir`,
    server,
    database,
    config,
    key,
    staffToken,
    metrics,
    request(path, init = {}) {
      const headers = new Headers(init.headers);
      const token = init.token === undefined ? staffToken : init.token;
      if (token) headers.set('Authorization', `Bearer ${token}`);
      let body = init.body;
      if (init.json !== undefined) {
        body = typeof init.json === 'string' ? init.json : JSON.stringify(init.json);
        if (!headers.has('Content-Type')) headers.set('Content-Type', 'application/fhir+json');
      }
      return fetch(path.startsWith('http') ? path : `${url}${path}`, { ...init, headers, body });
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await stopAuditLog(database.db);
      await database.close();
    },
  };
}
