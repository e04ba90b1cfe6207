import path from 'node:path';
import { agePolicyByName } from './access/age-policy-profiles';
import { DEFAULT_ALLOWED_HOSTS, endpointPolicy } from './fhir/subscriptions/endpoint-policy';

/** Which age-access policy profile applies (see src/access). */
export type AgePolicyName = 'westmed' | 'westchester';

/** Everything Chartkeeper reads from its environment, validated once at startup and frozen. */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** Public base URL used in links (Location headers, emails, paging links). */
  readonly baseUrl: string;
  /** Real PostgreSQL when set; otherwise PGlite in dataDir. */
  readonly databaseUrl?: string;
  readonly dataDir: string;
  /** Request body limit for FHIR JSON, in bytes. */
  readonly maxJsonBytes: number;
  /** Upload limit for XML documents (C-CDA import), in bytes. */
  readonly maxXmlBytes: number;
  /** Heap limit of the worker that parses C-CDA documents, in MB: a document that needs more is a 413. */
  readonly ccdaParseHeapMb: number;
  /** Largest file (Binary) staff and systems may store, in bytes; portal callers' files are 10 MB at most. */
  readonly maxBinaryBytes: number;
  /** Base64 or hex secret for token signing; generated into dataDir when absent. */
  readonly signingKey?: string;
  readonly smtpUrl?: string;
  readonly mailFrom: string;
  readonly timeZone: string;
  readonly agePolicy: AgePolicyName;
  /** PORTAL_CONSENT_REQUIRED: true/false overrides the age policy's own setting; undefined follows the policy. */
  readonly portalConsentRequired?: boolean;
  /** Where emailed links lead: the portal frontend (PORTAL_URL), by default BASE_URL. */
  readonly portalUrl?: string;
  readonly logLevel: string;
  /** Load the demo family into an empty embedded database on start. */
  readonly seedDemo: boolean;
  /** On SIGTERM/SIGINT, how long requests in flight and running jobs get to finish before they are cut. */
  readonly shutdownGraceSeconds: number;
  /** Bearer token a Prometheus scraper presents to GET /metrics; unset = no /metrics endpoint. */
  readonly metricsToken?: string;
  /** Cron schedules replacing the jobs' defaults, by job name (JOB_SCHEDULES="release-notice=0 9 * * *;..."). */
  readonly jobSchedules: Readonly<Record<string, string>>;
  /** PostgreSQL's statement_timeout for every statement but migrations, in ms (0: none). PGlite cannot enforce it. */
  readonly statementTimeoutMs: number;
  /** Stripe's secret API key and webhook signing secret (both or neither); without them bill pay uses the demo processor. */
  readonly stripeSecretKey?: string;
  readonly stripeWebhookSecret?: string;
  /** Hosts (names, addresses, CIDR ranges) a Subscription may reach over http or at a non-public address. */
  readonly subscriptionAllowHosts: readonly string[];
  /** How long a completed Bulk Data export's files are kept before the cleanup job deletes them, in seconds. */
  readonly exportFileTtlSeconds: number;
}

/**
 * The C-CDA parse worker's heap limit by default, in MB: a document within the limits (20 MB, 200,000 elements) parses
 * in a few hundred MB; one that needs more ends the worker (not the server) and is refused as too large to import.
 */
export const DEFAULT_CCDA_PARSE_HEAP_MB = 768;

/** Thrown when the environment holds a value Chartkeeper cannot use. */
export class ConfigError extends Error {}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/**
 * CCDA_PARSE_HEAP_MB: at least 128. The parser and the FHIR definitions it loads with the first document peak near
 * 80 MB, so below that the first document is refused for memory it did not need (96 MB: a 10 KB document), and a worker
 * that reaches its limit inside one long allocation (JSON.parse of the definitions) is not stopped alone: V8 ends the
 * whole process (measured with 32 and 64 MB).
 */
function ccdaParseHeapMb(env: NodeJS.ProcessEnv): number {
  const value = integer(env, 'CCDA_PARSE_HEAP_MB', DEFAULT_CCDA_PARSE_HEAP_MB);
  if (value < 128) throw new ConfigError(`CCDA_PARSE_HEAP_MB must be at least 128 (MB), got "${env.CCDA_PARSE_HEAP_MB}"`);
  return value;
}

function bytes(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(raw.trim());
  if (!match) throw new ConfigError(`${name} must be a size such as 5mb, got "${raw}"`);
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(match[2] ?? 'b').toLowerCase() as 'b'];
  return Number(match[1]) * unit;
}

function metricsToken(env: NodeJS.ProcessEnv): string | undefined {
  const token = env.METRICS_TOKEN || undefined;
  // A short token can be guessed by anyone who can reach the port.
  if (token !== undefined && token.length < 16) throw new ConfigError('METRICS_TOKEN must be at least 16 characters');
  return token;
}

function jobSchedules(env: NodeJS.ProcessEnv): Record<string, string> {
  const schedules: Record<string, string> = {};
  // Cron expressions hold spaces and commas, so pairs are separated by semicolons.
  for (const pair of (env.JOB_SCHEDULES ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([a-z-]+)=(.+)$/.exec(pair);
    if (!match) throw new ConfigError(`JOB_SCHEDULES must be job=cron pairs separated by ";", got "${pair}"`);
    schedules[match[1]] = match[2].trim();
  }
  return Object.freeze(schedules);
}

function optionalBoolean(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  return raw === 'true';
}

function portalUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.PORTAL_URL || undefined;
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PORTAL_URL must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`PORTAL_URL must be an http(s) URL, got "${raw}"`);
  return raw.replace(/\/$/, '');
}

/** Whether portal accounts must complete the portal consent form: PORTAL_CONSENT_REQUIRED, else the age policy's setting. */
export function portalConsentRequired(config: Pick<Config, 'agePolicy' | 'portalConsentRequired'>): boolean {
  return config.portalConsentRequired ?? agePolicyByName(config.agePolicy).portalConsentRequired;
}

function subscriptionAllowHosts(env: NodeJS.ProcessEnv): readonly string[] {
  const raw = env.SUBSCRIPTION_ALLOW_HOSTS;
  if (raw === undefined || raw === '') return DEFAULT_ALLOWED_HOSTS;
  if (raw.trim() === 'none') return Object.freeze([]);
  const entries = Object.freeze(
    raw
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean),
  );
  try {
    endpointPolicy(entries);
  } catch (err) {
    throw new ConfigError(`SUBSCRIPTION_ALLOW_HOSTS: ${(err as Error).message}`);
  }
  return entries;
}

function exportFileTtlSeconds(env: NodeJS.ProcessEnv): number {
  const seconds = integer(env, 'EXPORT_FILE_TTL_SECONDS', 24 * 60 * 60);
  // Under a minute a client could not even fetch the manifest's files; past 30 days files of records linger.
  if (seconds < 60 || seconds > 30 * 24 * 60 * 60)
    throw new ConfigError(`EXPORT_FILE_TTL_SECONDS must be from 60 to 2592000 (30 days), got ${seconds}`);
  return seconds;
}

/** Reads and validates the environment; nothing else in Chartkeeper reads process.env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const port = integer(env, 'PORT', 8080);
  const host = env.HOST || '0.0.0.0';
  const agePolicy = env.AGE_POLICY || 'westmed';
  if (agePolicy !== 'westmed' && agePolicy !== 'westchester') {
    throw new ConfigError(`AGE_POLICY must be westmed or westchester, got "${agePolicy}"`);
  }
  const timeZone = env.ORG_TIME_ZONE || 'America/Los_Angeles';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new ConfigError(`ORG_TIME_ZONE is not a known time zone: "${timeZone}"`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  const stripeSecretKey = env.STRIPE_SECRET_KEY || undefined;
  const stripeWebhookSecret = env.STRIPE_WEBHOOK_SECRET || undefined;
  if (!stripeSecretKey !== !stripeWebhookSecret)
    throw new ConfigError('STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET go together: set both (Stripe) or neither (the demo processor)');
  const config: Config = {
    port,
    host,
    baseUrl: (env.BASE_URL || `http://localhost:${port}`).replace(/\/$/, ''),
    databaseUrl,
    dataDir: path.resolve(env.DATA_DIR || 'data'),
    maxJsonBytes: bytes(env, 'MAX_JSON_BYTES', 16 * 1024 * 1024),
    maxXmlBytes: bytes(env, 'MAX_XML_BYTES', 20 * 1024 * 1024),
    ccdaParseHeapMb: ccdaParseHeapMb(env),
    maxBinaryBytes: bytes(env, 'MAX_BINARY_BYTES', 100 * 1024 * 1024),
    signingKey: env.SIGNING_KEY || undefined,
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || 'Chartkeeper <no-reply@chartkeeper.local>',
    timeZone,
    agePolicy,
    portalConsentRequired: optionalBoolean(env, 'PORTAL_CONSENT_REQUIRED'),
    portalUrl: portalUrl(env),
    logLevel: env.LOG_LEVEL || 'info',
    seedDemo: env.SEED_DEMO ? env.SEED_DEMO !== 'false' : !databaseUrl,
    // Below the 30 s a container orchestrator waits by default (Kubernetes) before it kills the process.
    shutdownGraceSeconds: integer(env, 'SHUTDOWN_GRACE_SECONDS', 25),
    metricsToken: metricsToken(env),
    jobSchedules: jobSchedules(env),
    // Far above any statement of a request this service makes (milliseconds), far below a client's patience.
    statementTimeoutMs: integer(env, 'STATEMENT_TIMEOUT_MS', 15_000),
    ...(stripeSecretKey ? { stripeSecretKey, stripeWebhookSecret } : {}),
    subscriptionAllowHosts: subscriptionAllowHosts(env),
    exportFileTtlSeconds: exportFileTtlSeconds(env),
    ...overrides,
  };
  return Object.freeze(config);
}
