/**
 * What a scheduled job runs with, taken from a running test app as main.ts takes it from its own: the app's database,
 * clock, mailer, organisation time zone, age policy and URL. For tests that run a job by calling it.
 */
import { agePolicyByName } from '../../src/access/age-policy-profiles';
import type { Config } from '../../src/config';
import type { JobDeps } from '../../src/jobs/job-deps';
import type { TestDatabase } from './test-database';

/** The parts of a running test app a job needs; the account test app and the SMART test app both have them. */
export interface JobHost {
  readonly url: string;
  readonly database: Pick<TestDatabase, 'db'>;
  readonly clock: JobDeps['clock'];
  readonly mailer: JobDeps['mailer'];
  readonly config: Pick<Config, 'timeZone' | 'agePolicy'>;
}

/** The app's job dependencies; `extra` adds the optional ones a test sets (an export's file lifetime, say). */
export function appJobDeps(app: JobHost, extra: Partial<JobDeps> = {}): JobDeps {
  return {
    db: app.database.db,
    clock: app.clock,
    mailer: app.mailer,
    timeZone: app.config.timeZone,
    policy: agePolicyByName(app.config.agePolicy),
    baseUrl: app.url,
    ...extra,
  };
}
