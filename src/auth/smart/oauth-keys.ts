/**
 * The authorization server's own keys, kept in the database (`oauth_key`) so every instance signs with the same: an
 * RSA key that signs id_tokens (its public half is published at jwks_uri) and the keys that sign oidc-provider's
 * cookies. The first instance to start makes them; the others read what it stored.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { Kysely, sql } from 'kysely';
import type { Tables } from '../../db/tables';

/** The keys oidc-provider is configured with. */
export interface OauthKeys {
  /** Private JWKs that sign id_tokens (RS256). */
  readonly signing: JWK[];
  /** Secrets that sign the interaction and session cookies. */
  readonly cookies: string[];
}

/** Reads the keys, making and storing them first if this is the first start. */
export async function loadOrCreateOauthKeys(db: Kysely<Tables>): Promise<OauthKeys> {
  const signing = await loadOrCreate(db, 'id-token-signing', async () => {
    const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  });
  const cookie = await loadOrCreate(db, 'cookie', () => Promise.resolve({ secret: randomBytes(32).toString('base64url') }));
  return { signing: [signing as unknown as JWK], cookies: [String(cookie.secret)] };
}

/** The stored value of `name`; when none, `make()`'s, stored unless another instance stored one first. */
async function loadOrCreate(
  db: Kysely<Tables>,
  name: string,
  make: () => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const read = async () => {
    const { rows } = await sql<{ value: Record<string, unknown> | string }>`select value from oauth_key where name = ${name}`.execute(db);
    const value = rows[0]?.value;
    return typeof value === 'string' ? (JSON.parse(value) as Record<string, unknown>) : value;
  };
  const existing = await read();
  if (existing) return existing;
  await sql`insert into oauth_key (name, value, created_at) values (${name}, ${JSON.stringify(await make())}::jsonb, now())
    on conflict (name) do nothing`.execute(db);
  return await read();
}
