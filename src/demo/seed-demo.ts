import { buildDemoFamily, localCalendarDay } from '../../fixtures/demo-family';
import { processBundle } from '../fhir/bundle-processor';
import { claimUsCoreProfile } from '../fhir/us-core-claims';
import type { AgePolicy } from '../access/age-policy-profiles';
import type { Repository } from '../fhir/repository';
import { seedDemoAccounts } from './seed-demo-accounts';

/** What seeding did. */
export interface SeedResult {
  readonly seeded: boolean;
  readonly resources: number;
}

/** True when the database holds no Patient yet (the embedded default then loads the demo family). */
export async function isEmpty(repo: Repository): Promise<boolean> {
  const row = await repo.db.selectFrom('resource').select('id').where('resource_type', '=', 'Patient').limit(1).executeTakeFirst();
  return !row;
}

/** Loads the demo family, with ages computed from the repository's clock, in one transaction, then its logins and grants. */
export async function seedDemoFamily(repo: Repository, options: { policy?: AgePolicy } = {}): Promise<SeedResult> {
  // Ages must hold on the practice's calendar day, not UTC's.
  const bundle = buildDemoFamily(localCalendarDay(repo.context.clock.now()));
  // Each resource claims the US Core profile it meets (us-core-claims.ts), as the C-CDA import's output does.
  for (const entry of bundle.entry ?? []) if (entry.resource) claimUsCoreProfile(entry.resource);
  const result = await processBundle(repo, bundle);
  await seedDemoAccounts(repo, options);
  return { seeded: true, resources: result.entry?.length ?? 0 };
}
