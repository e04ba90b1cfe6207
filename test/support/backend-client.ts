/** A SMART Backend Services client of one organisation for tests: registered with a key, it asks for tokens by scope. */
import { randomUUID, webcrypto } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { addClient } from '../../src/auth/smart/oauth-clients';
import type { SmartTestApp } from './smart-test-app';

/** A registered backend client. */
export interface BackendClient {
  readonly clientId: string;
  /** A token with exactly these scopes (client_credentials with a private_key_jwt); throws unless granted as asked. */
  token(scope: string): Promise<string>;
}

/** Registers a backend client of `organizationId` with a fresh RS384 key. */
export async function registerBackendClient(app: SmartTestApp, organizationId: string, name = 'Test Backend'): Promise<BackendClient> {
  const pair = await webcrypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-384' },
    true,
    ['sign', 'verify'],
  );
  const registeredPublic = await exportJWK(pair.publicKey);
  const { clientId } = await addClient(app.database.db, {
    name,
    redirectUris: [],
    jwks: { keys: [{ ...registeredPublic, kid: 'k1', alg: 'RS384' }] },
    organizationId,
  });
  return {
    clientId,
    async token(scope) {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'RS384', kid: 'k1', typ: 'JWT' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(`${app.issuer}/token`)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(pair.privateKey);
      const res = await fetch(`${app.issuer}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
      const body = (await res.json()) as { access_token?: string; scope?: string };
      if (res.status !== 200 || body.scope !== scope) throw new Error(`token for "${scope}": ${res.status} ${JSON.stringify(body)}`);
      return body.access_token as string;
    },
  };
}
