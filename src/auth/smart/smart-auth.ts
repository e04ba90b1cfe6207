/** The SMART authorization server, its sign-in decisions and the authenticator that takes its tokens, built together. */
import type { Kysely } from 'kysely';
import type { Authenticator } from '../../access/caller';
import type { Tables } from '../../db/tables';
import { type ScopeOptions, staffResolver, userResolver } from '../caller-scope';
import type { SessionService } from '../session-service';
import { SmartAuthorization } from './smart-authorization';
import { createSmartServer, type SmartServer } from './smart-provider';
import { SmartTokenAuthenticator } from './smart-token-authenticator';

/** Everything SMART on FHIR adds to the service. */
export interface SmartAuth {
  readonly server: SmartServer;
  readonly authorization: SmartAuthorization;
  /** Takes the service's own tokens (through `inner`) and the SMART server's. */
  readonly authenticator: Authenticator;
}

/** Builds SMART on FHIR for the service at `baseUrl`, over its database, sign-in and age rules. */
export async function createSmartAuth(deps: {
  db: Kysely<Tables>;
  baseUrl: string;
  sessions: SessionService;
  scopeOptions: ScopeOptions;
  inner: Authenticator;
}): Promise<SmartAuth> {
  const server = await createSmartServer(deps.db, deps.baseUrl);
  const users = userResolver(deps.db, deps.scopeOptions);
  const staff = staffResolver(deps.db, deps.scopeOptions);
  const authenticator = new SmartTokenAuthenticator(deps.inner, server, (accountId, kind) =>
    kind === 'staff' ? staff(accountId, {}) : users(accountId, {}),
  );
  return { server, authorization: new SmartAuthorization(server, deps.sessions, deps.scopeOptions), authenticator };
}
