/**
 * The SMART App Launch 2.0 authorization server: oidc-provider (a certified OpenID Connect / OAuth 2.0 server)
 * mounted at /oauth, configured for SMART: authorization code with PKCE (S256 only), SMART scopes for the FHIR base
 * as the one resource server, `aud` checked against it, refresh tokens that rotate, id_tokens signed with an RSA key,
 * and client_credentials with private_key_jwt for backend services. Its state lives in the database
 * (oauth-state-adapter.ts); the sign-in, patient choice and consent pages are ours (http/oauth-interaction-router.ts).
 */
import { Readable } from 'node:stream';
import { Kysely, sql } from 'kysely';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Tables } from '../../db/tables';
import { parseResourceScope, SMART_OTHER_SCOPES } from '../../access/smart-scopes';
import { loadOrCreateOauthKeys } from './oauth-keys';
import { OauthStateAdapter, oauthStateAdapterFactory } from './oauth-state-adapter';
import { effectiveScopeText, queryIsReadable } from './smart-grantable-scopes';

/** Lifetimes, in seconds. */
export const SMART_TTL = Object.freeze({
  accessToken: 15 * 60,
  clientCredentials: 5 * 60,
  authorizationCode: 60,
  refreshToken: 30 * 24 * 3600,
  interaction: 60 * 60,
  session: 24 * 3600,
  grant: 30 * 24 * 3600,
  idToken: 60 * 60,
});

/** The model under which a grant's launch context (the patient chosen) is kept, keyed by the grant id. */
const LAUNCH_MODEL = 'SmartLaunch';

/** The launch context chosen when a grant was given. */
export interface LaunchContext {
  readonly patient?: string;
}

/** The authorization server and what the rest of the service needs of it. */
export interface SmartServer {
  readonly provider: Provider;
  /** `${baseUrl}/oauth` */
  readonly issuer: string;
  /** `${baseUrl}/fhir`, the only resource server (the `aud` apps send). */
  readonly fhirBase: string;
  readonly db: Kysely<Tables>;
  /** The launch context of a grant (the patient picked), if any. */
  launchContext(grantId: string): Promise<LaunchContext | undefined>;
  /** Stores the launch context of a grant, for as long as the grant lives. */
  saveLaunchContext(grantId: string, context: LaunchContext): Promise<void>;
}

/** Builds the authorization server of the service at `baseUrl`. */
export async function createSmartServer(db: Kysely<Tables>, baseUrl: string): Promise<SmartServer> {
  const issuer = `${baseUrl}/oauth`;
  const fhirBase = `${baseUrl}/fhir`;
  const keys = await loadOrCreateOauthKeys(db);
  const launches = new OauthStateAdapter(db, LAUNCH_MODEL);
  const provider = new Provider(issuer, configuration({ db, fhirBase, signing: keys.signing, cookies: keys.cookies }));
  // Behind a proxy the service's own BASE_URL is the truth; the provider builds its URLs from the issuer.
  provider.proxy = true;
  const server: SmartServer = {
    provider,
    issuer,
    fhirBase,
    db,
    async launchContext(grantId) {
      return (await launches.find(grantId)) as LaunchContext | undefined;
    },
    async saveLaunchContext(grantId, context) {
      await launches.upsert(grantId, { ...context, grantId }, SMART_TTL.grant);
    },
  };
  provider.use(offlineAccessAsksConsent);
  provider.use(publicRefreshNamesItsClient(provider));
  provider.use(tokenResponseContext(server));
  return server;
}

function configuration(options: {
  db: Kysely<Tables>;
  fhirBase: string;
  signing: Configuration['jwks'] extends infer J ? (J extends { keys: infer K } ? K : never) : never;
  cookies: string[];
}): Configuration {
  const { db, fhirBase } = options;
  return {
    adapter: oauthStateAdapterFactory(db),
    clients: [],
    jwks: { keys: options.signing },
    cookies: { keys: options.cookies, long: { signed: true, sameSite: 'lax' }, short: { signed: true, sameSite: 'lax' } },
    findAccount: (_ctx, sub) => findSmartAccount(db, fhirBase, sub),
    // A browser app may call the token endpoint from the origin of one of its registered redirect URIs.
    clientBasedCORS: (_ctx, origin, client) => client.redirectUris?.some((uri) => originOf(uri) === origin) ?? false,
    claims: { openid: ['sub'], fhirUser: ['fhirUser'], profile: ['name'] },
    scopes: [...SMART_OTHER_SCOPES],
    // fhirUser goes into the id_token itself, as SMART apps read it there.
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    extraParams: ['aud', 'launch'],
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'private_key_jwt'],
    enabledJWA: { clientAuthSigningAlgValues: ['RS384', 'ES384', 'RS256', 'ES256'], idTokenSigningAlgValues: ['RS256'] },
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/oauth/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: SMART_TTL.accessToken,
      ClientCredentials: SMART_TTL.clientCredentials,
      AuthorizationCode: SMART_TTL.authorizationCode,
      RefreshToken: SMART_TTL.refreshToken,
      Interaction: SMART_TTL.interaction,
      Session: SMART_TTL.session,
      Grant: SMART_TTL.grant,
      IdToken: SMART_TTL.idToken,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // SMART apps name the FHIR server with `aud`; nothing else may be asked for.
        defaultResource: (ctx) => {
          const aud = ctx.oidc.params?.aud;
          if (typeof aud === 'string' && aud.replace(/\/$/, '') !== fhirBase) {
            throw new errors.InvalidTarget(`aud must be this FHIR server, ${fhirBase}`);
          }
          return fhirBase;
        },
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource.replace(/\/$/, '') !== fhirBase)
            throw new errors.InvalidTarget(`the only resource is this FHIR server, ${fhirBase}`);
          return {
            audience: fhirBase,
            scope: resourceScopesAsked(ctx),
            accessTokenFormat: 'opaque',
            accessTokenTTL: SMART_TTL.accessToken,
          };
        },
      },
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><main><h1>This sign-in cannot go on</h1><p>${escapeHtml(String(out.error))}: ${escapeHtml(String(out.error_description ?? ''))}</p></main></body></html>`;
    },
  };
}

/**
 * The resource scopes this request may receive: the SMART resource scopes it names (or its refresh token carries), as
 * oidc-provider grants only scopes its resource server lists. Backend services get system/ scopes, apps of users the
 * patient/ and user/ ones.
 */
function resourceScopesAsked(ctx: KoaContextWithOIDC): string {
  const asked = [ctx.oidc.params?.scope, ctx.oidc.entities.RefreshToken?.scope].filter((s): s is string => typeof s === 'string').join(' ');
  const clientCredentials = ctx.oidc.params?.grant_type === 'client_credentials';
  const scopes = asked.split(' ').filter((text) => {
    const parsed = parseResourceScope(text);
    // A query this server cannot apply is no scope it grants: left out here, the request goes on without it.
    return parsed && queryIsReadable(parsed) && (clientCredentials ? parsed.context === 'system' : parsed.context !== 'system');
  });
  return [...new Set(scopes)].join(' ');
}

/**
 * A request for offline_access is honoured by oidc-provider only with prompt=consent; every SMART authorization here
 * shows the consent page anyway, so a request that asks for offline_access gets that prompt.
 */
async function offlineAccessAsksConsent(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  if (ctx.method === 'GET' && ctx.path.endsWith('/auth')) {
    const { scope, prompt } = ctx.query;
    if (typeof scope === 'string' && scope.split(' ').includes('offline_access') && prompt === undefined) {
      ctx.query = { ...ctx.query, prompt: 'consent' };
    }
  }
  await next();
}

/** The largest token request body read here (oidc-provider's own limit is larger; a token request is a few lines). */
const TOKEN_BODY_LIMIT = 64 * 1024;

/**
 * SMART lets a public app refresh without naming itself ("authentication is not possible, and thus not required";
 * fhirclient sends only grant_type and refresh_token), while oidc-provider needs a client_id on every token request.
 * Such a request gets the client_id of the refresh token it presents; a confidential client's token still needs that
 * client's authentication, so this identifies a public client and authenticates nobody.
 */
function publicRefreshNamesItsClient(provider: Provider) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    if (ctx.method !== 'POST' || !ctx.path.endsWith('/token') || ctx.headers.authorization || !ctx.is('application/x-www-form-urlencoded'))
      return next();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > TOKEN_BODY_LIMIT) throw new errors.InvalidRequest('the token request is too large');
      chunks.push(chunk as Buffer);
    }
    const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (params.get('grant_type') === 'refresh_token' && !params.has('client_id') && !params.has('client_assertion')) {
      const token = await provider.RefreshToken.find(params.get('refresh_token') ?? '');
      if (token?.clientId) params.set('client_id', token.clientId);
    }
    // The body, read here, is given to oidc-provider again as the stream it expects.
    const body = Buffer.from(params.toString());
    const original = ctx.req;
    const replay = Object.assign(Readable.from([body]), {
      headers: { ...original.headers, 'content-length': String(body.length) },
      method: original.method,
      url: original.url,
      originalUrl: (original as { originalUrl?: string }).originalUrl,
      socket: original.socket,
      connection: original.socket,
      httpVersion: original.httpVersion,
    });
    ctx.req = ctx.request.req = replay as unknown as typeof ctx.req;
    await next();
  };
}

/** Adds the SMART launch context (`patient`) to a token response, and says in `scope` what the token really gives. */
function tokenResponseContext(server: SmartServer) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
    const body = ctx.body as Record<string, unknown>;
    const token = ctx.oidc.entities.AccessToken;
    if (!token?.grantId || typeof body.access_token !== 'string') return;
    const launch = await server.launchContext(token.grantId);
    if (launch?.patient) body.patient = launch.patient;
    const asked = ctx.oidc.entities.AuthorizationCode?.scopes ?? ctx.oidc.entities.RefreshToken?.scopes ?? new Set<string>();
    const openid = ctx.oidc.entities.Grant?.getOIDCScopeFiltered(asked) ?? '';
    const kind = await accountKind(server.db, token.accountId);
    body.scope = [openid, effectiveScopeText(token.scope ?? '', { kind, patient: launch?.patient })].filter(Boolean).join(' ');
  };
}

/** The kind of an account ('patient', 'family', 'staff'), undefined when it does not exist. */
export async function accountKind(db: Kysely<Tables>, accountId: string | undefined): Promise<string | undefined> {
  if (!accountId) return undefined;
  const { rows } = await sql<{ kind: string }>`select kind from account where id = ${accountId} and disabled_at is null`.execute(db);
  return rows[0]?.kind;
}

/** The account behind a `sub`, with the claims SMART apps read: fhirUser (the person's FHIR resource) and name. */
async function findSmartAccount(db: Kysely<Tables>, fhirBase: string, sub: string) {
  const { rows } = await sql<{ id: string; kind: string; patient_id: string | null; practitioner_id: string | null; display_name: string }>`
    select id, kind, patient_id, practitioner_id, display_name from account where id = ${sub} and disabled_at is null`.execute(db);
  const account = rows[0];
  if (!account) return undefined;
  const fhirUser = account.patient_id
    ? `${fhirBase}/Patient/${account.patient_id}`
    : account.practitioner_id
      ? `${fhirBase}/Practitioner/${account.practitioner_id}`
      : undefined;
  return {
    accountId: account.id,
    claims: () => Promise.resolve({ sub: account.id, name: account.display_name, ...(fhirUser ? { fhirUser } : {}) }),
  };
}

/** The origin of a URL, or undefined when it is not one. */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
