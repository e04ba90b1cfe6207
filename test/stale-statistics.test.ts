/**
 * Plans that hold when statistics are stale (issue 22). PostgreSQL may run with autovacuum off, and a bulk load into
 * tables analysed while empty leaves the planner believing they are empty. Each portal search must then still answer
 * within twice its time after an ANALYZE, and a 100,000-row audit backlog must clear in under 30 s.
 * PostgreSQL only: PGlite plans the same SQL, but its statistics are not the point here (and it has no autovacuum).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { agePolicyByName } from '../src/access/age-policy-profiles';
import type { Caller } from '../src/access/caller';
import { staffResolver, userResolver } from '../src/auth/caller-scope';
import { portalScope, staffScope } from '../src/access/portal-scope';
import type { AccessScope } from '../src/access/access-scope';
import { settleAuditLog } from '../src/fhir/audit/audit-log';
import { FixedClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { parseSearch } from '../src/fhir/search/parse-search';
import { analyzeTables, schemaTables } from '../src/db/table-statistics';
import { loadSearchCorpus, type SearchCorpus } from './support/search-corpus';
import { openTestDatabase, type TestDatabase } from './support/test-database';
import { PORTAL_SEARCHES } from './support/portal-searches';

const onPostgres = !!process.env.DATABASE_URL;
const describePg = onPostgres ? describe : describe.skip;
if (!onPostgres) test.skip('stale statistics: PostgreSQL only (set DATABASE_URL)', () => undefined);

const clock = new FixedClock(new Date('2026-03-01T20:00:00Z'));

describePg('with statistics taken while the tables were empty', () => {
  let database: TestDatabase;
  let corpus: SearchCorpus;
  beforeAll(async () => {
    database = await openTestDatabase();
    // The migrations analysed every table while it was empty: the state a bulk load leaves without an ANALYZE.
    corpus = await loadSearchCorpus(database.db, { patients: 150 });
  }, 600_000);
  afterAll(() => database?.close());

  const repoFor = (caller: AccessScope | Caller) =>
    'scope' in caller
      ? new Repository(database.db, {
          scope: caller.scope,
          unconfirmed: caller.unconfirmed?.condition,
          clock,
          fhirBase: 'http://localhost/fhir',
        })
      : new Repository(database.db, { scope: caller, clock, fhirBase: 'http://localhost/fhir' });

  /** A signed-in account's caller as a second request of its session takes it: on trust, confirmed in the page's statement. */
  async function trustedCaller(kind: 'patient' | 'staff', extra: { patient_id?: string; organization_id?: string }): Promise<Caller> {
    const id = randomUUID();
    await database.db
      .insertInto('account')
      .values({
        id,
        email: `${id}@example.org`,
        kind,
        display_name: kind,
        created_at: clock.now(),
        updated_at: clock.now(),
        password_hash: null,
        ...extra,
      })
      .execute();
    const options = { clock, timeZone: 'UTC', policy: agePolicyByName('westmed') };
    const resolve = kind === 'staff' ? staffResolver(database.db, options) : userResolver(database.db, options);
    await resolve(id, {}, { confirmedInStatement: true });
    const caller = await resolve(id, {}, { confirmedInStatement: true });
    expect(caller.unconfirmed).toBeDefined();
    return caller;
  }

  /** The fastest of `runs` runs, in ms: the plan's cost, with as little of the busy machine in it as can be. */
  async function fastest(run: () => Promise<unknown>, runs = 7): Promise<number> {
    await run();
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const started = process.hrtime.bigint();
      await run();
      best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
    }
    return best;
  }

  test('each of the seven portal searches, as staff and as Ada, answers within 2x of its time after ANALYZE', async () => {
    const ada = corpus.patientIds[0];
    const callers: Record<string, AccessScope | Caller> = {
      staff: staffScope(corpus.organizationId, 'staff'),
      ada: portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada'),
      // The same callers signed in, on trust: the page's statement also confirms the account and what its access is from.
      'staff on trust': await trustedCaller('staff', { organization_id: corpus.organizationId }),
      'ada on trust': await trustedCaller('patient', { patient_id: ada }),
    };
    const searches = PORTAL_SEARCHES(ada);
    const stale: Record<string, number> = {};
    const counts: Record<string, number> = {};
    // Three passes a second apart, each search's fastest run kept: a burst of other work on a busy machine (seen: one
    // search's seven runs all at 17 ms against 1.2 ms, and 1.1 ms when run again) rarely spans all three.
    for (let pass = 0; pass < 3; pass++) {
      if (pass) await new Promise((resolve) => setTimeout(resolve, 1000));
      for (const [caller, scope] of Object.entries(callers)) {
        for (const s of searches) {
          const key = `${s.name} ${caller}`;
          const repo = repoFor(scope);
          stale[key] = Math.min(stale[key] ?? Infinity, await fastest(() => repo.search(parseSearch(s.type, s.query))));
          counts[key] ??= (await repo.search(parseSearch(s.type, s.query))).entry?.length ?? 0;
        }
      }
    }
    await analyzeTables(database.db, await schemaTables(database.db));
    const lines: string[] = [];
    const slow: string[] = [];
    for (const [caller, scope] of Object.entries(callers)) {
      for (const s of searches) {
        const key = `${s.name} ${caller}`;
        const analysed = await fastest(() => repoFor(scope).search(parseSearch(s.type, s.query)));
        lines.push(
          `${key.padEnd(40)} entries ${String(counts[key]).padStart(3)}  stale ${stale[key].toFixed(1).padStart(7)} ms  analysed ${analysed.toFixed(1).padStart(7)} ms  ratio ${(stale[key] / analysed).toFixed(2)}`,
        );
        // 2x, plus 10 ms for a busy machine's noise on searches that take a few milliseconds.
        if (stale[key] > 2 * analysed + 10) slow.push(key);
        expect(counts[key]).toBeGreaterThan(0);
      }
    }
    process.stdout.write(`stale statistics, ${corpus.resources} resources:\n${lines.join('\n')}\n`);
    expect(slow).toEqual([]);
  }, 600_000);
});

describePg('a 100,000-row audit backlog on a table analysed while empty', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase();
  }, 120_000);
  afterAll(() => database?.close());

  test('clears in under 30 s', async () => {
    await analyzeTables(database.db, ['audit_log']);
    // 100,000 accesses by 20 agents to 50 patients over 400 seconds: the merge leaves at most 20 x 400 events.
    await sql`insert into audit_log (entry)
      select jsonb_build_object('patientId', 'p' || (i % 50), 'interaction', 'read',
        'agent', jsonb_build_object('who', jsonb_build_object('reference', 'Practitioner/s' || (i % 20)), 'requestor', true),
        'resources', jsonb_build_array('Observation/o' || i),
        'recorded', to_char((timestamptz '2026-03-01T10:00:00Z' + (i % 400) * interval '1 second') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      from generate_series(1, 100000) i`.execute(database.db);
    const started = Date.now();
    await settleAuditLog(database.db);
    const seconds = (Date.now() - started) / 1000;
    const { rows: left } = await sql<{ n: string }>`select count(*) as n from audit_log`.execute(database.db);
    const { rows: events } = await sql<{ n: string; resources: string }>`
      select count(*) as n, sum(jsonb_array_length(content::jsonb -> 'entity') - 1) as resources
      from resource where resource_type = 'AuditEvent'`.execute(database.db);
    process.stdout.write(`audit backlog of 100,000 rows: cleared in ${seconds.toFixed(1)} s into ${events[0].n} AuditEvents\n`);
    expect(Number(left[0].n)).toBe(0);
    expect(Number(events[0].resources)).toBe(100_000);
    expect(seconds).toBeLessThan(30);
  }, 120_000);
});
