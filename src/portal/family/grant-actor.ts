import { portalAccountOf, staffAccountOf } from '../../auth/account-caller';
import type { AccountServices } from '../account-services';
import type { Caller } from '../../access/caller';
import type { GrantActor } from './family-grants-service';
import type { Repository } from '../../fhir/repository';

/** Who is managing grants: a portal account, or staff acting through their own (organization-scoped) repository. */
export async function grantActorOf(services: AccountServices, caller: Caller, repo: Repository): Promise<GrantActor> {
  if (caller.kind === 'user') return { kind: 'account', account: await portalAccountOf(services.context.db, caller) };
  await staffAccountOf(services.context.db, caller);
  return { kind: 'staff', repo };
}
