/**
 * The apps registered with the SMART authorization server (`chartkeeper client add|list|remove`), stored in
 * `oauth_client` as the metadata oidc-provider reads: a public app (PKCE, no secret), a confidential app that signs
 * its token requests with a key of its registered JWKS, or a backend service (client_credentials, private_key_jwt,
 * the records of one organisation).
 */
import { randomUUID } from 'node:crypto';
import { Kysely, sql } from 'kysely';
import type { Tables } from '../../db/tables';

/** What `client add` is given. */
export interface NewClient {
  readonly name: string;
  readonly redirectUris: readonly string[];
  /** A public app (a browser or phone app that can keep no secret). */
  readonly public?: boolean;
  /** The app's public keys, for private_key_jwt. */
  readonly jwks?: unknown;
  /** A backend service's organisation: the only records its system/ scopes reach. */
  readonly organizationId?: string;
}

/** A registered app, as listed. */
export interface RegisteredClient {
  readonly clientId: string;
  readonly name: string;
  readonly kind: 'public' | 'confidential' | 'backend';
  readonly redirectUris: string[];
  readonly organizationId?: string;
}

/** A registration that cannot be made, with the reason to show. */
export class ClientRegistrationError extends Error {}

const MAX_NAME = 200;
const MAX_REDIRECT_URIS = 10;
const MAX_KEYS = 10;

/** Registers an app and returns its client_id and kind. */
export async function addClient(db: Kysely<Tables>, input: NewClient): Promise<RegisteredClient> {
  const name = input.name.trim();
  if (!name || name.length > MAX_NAME) throw new ClientRegistrationError(`--name is required (at most ${MAX_NAME} characters)`);
  if (input.redirectUris.length > MAX_REDIRECT_URIS) throw new ClientRegistrationError(`at most ${MAX_REDIRECT_URIS} redirect URIs`);
  for (const uri of input.redirectUris) checkRedirectUri(uri);
  if (input.public && input.jwks) throw new ClientRegistrationError('a public app has no keys: give --public or --jwks, not both');
  if (!input.public && !input.jwks) throw new ClientRegistrationError('give --public (no secret, PKCE) or --jwks FILE (private_key_jwt)');
  const backend = !input.redirectUris.length;
  if (backend && input.public) throw new ClientRegistrationError('a public app needs --redirect-uri');
  if (backend && !input.organizationId)
    throw new ClientRegistrationError('a backend service (no --redirect-uri) needs --organization ID: the records it may read');
  const jwks = input.jwks ? checkJwks(input.jwks) : undefined;
  const clientId = randomUUID();
  const metadata = {
    client_id: clientId,
    client_name: name,
    redirect_uris: [...input.redirectUris],
    response_types: backend ? [] : ['code'],
    grant_types: backend ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: input.public ? 'none' : 'private_key_jwt',
    ...(jwks ? { jwks } : {}),
  };
  await sql`insert into oauth_client (client_id, name, metadata, organization_id, created_at)
    values (${clientId}, ${name}, ${JSON.stringify(metadata)}::jsonb, ${input.organizationId ?? null}, now())`.execute(db);
  return {
    clientId,
    name,
    kind: backend ? 'backend' : input.public ? 'public' : 'confidential',
    redirectUris: [...input.redirectUris],
    ...(input.organizationId ? { organizationId: input.organizationId } : {}),
  };
}

/** Every registered app. */
export async function listClients(db: Kysely<Tables>): Promise<RegisteredClient[]> {
  const { rows } = await sql<{
    client_id: string;
    name: string;
    metadata: Record<string, unknown> | string;
    organization_id: string | null;
  }>`
    select client_id, name, metadata, organization_id from oauth_client order by created_at, client_id`.execute(db);
  return rows.map((row) => {
    const metadata = (typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata) as {
      redirect_uris: string[];
      token_endpoint_auth_method: string;
    };
    const kind = !metadata.redirect_uris.length ? 'backend' : metadata.token_endpoint_auth_method === 'none' ? 'public' : 'confidential';
    return {
      clientId: row.client_id,
      name: row.name,
      kind,
      redirectUris: metadata.redirect_uris,
      ...(row.organization_id ? { organizationId: row.organization_id } : {}),
    };
  });
}

/** Removes an app and everything it was given (grants, codes, tokens): its tokens stop working at once. */
export async function removeClient(db: Kysely<Tables>, clientId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const removed = await sql`delete from oauth_client where client_id = ${clientId}`.execute(trx);
    await sql`delete from oauth_state where payload->>'clientId' = ${clientId}`.execute(trx);
    return Number(removed.numAffectedRows ?? 0) > 0;
  });
}

/** Absolute, no fragment; https, or http only to this machine (a developer's app). */
function checkRedirectUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ClientRegistrationError(`redirect URI ${uri} is not an absolute URL`);
  }
  if (url.hash) throw new ClientRegistrationError(`redirect URI ${uri} may not have a fragment`);
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new ClientRegistrationError(`redirect URI ${uri} must be https (http only to localhost)`);
  }
}

/** A JWKS of public RSA or EC keys (no private parts). */
function checkJwks(value: unknown): { keys: Record<string, unknown>[] } {
  const keys = (value as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || !keys.length || keys.length > MAX_KEYS)
    throw new ClientRegistrationError(`the JWKS must be {"keys": [...]} with 1 to ${MAX_KEYS} keys`);
  for (const key of keys as Record<string, unknown>[]) {
    if (!key || typeof key !== 'object' || !['RSA', 'EC'].includes(String(key.kty)))
      throw new ClientRegistrationError('each key must be an RSA or EC public key (kty RSA or EC)');
    if ('d' in key) throw new ClientRegistrationError('the JWKS holds a private key: register the public keys only');
  }
  return { keys: keys as Record<string, unknown>[] };
}
