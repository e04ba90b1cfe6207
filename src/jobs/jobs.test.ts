/**
 * The scheduled jobs, each run directly with a fixed clock on a real database holding the demo family: expiry
 * of one-time secrets, the refresh token purge, and the week-ahead birthday notices (sent once, to the
 * patient and every family member with an active grant), and the advisory lock that keeps a second instance out.
 */
import { Client } from 'pg';
import { DEMO_PEOPLE, demoBirthDate } from '../../fixtures/demo-family';
import { unrestrictedScope } from '../access/access-scope';
import { birthdayOf } from '../access/age-policy';
import { WESTMED_POLICY } from '../access/age-policy-profiles';
import { addDays } from '../access/calendar-date';
import { SecretStore } from '../auth/account-secrets';
import { ACCOUNT_LOGIN_THROTTLE } from '../auth/login-throttle';
import { ThrottleStore } from '../auth/throttle-store';
import { seedDemoFamily } from '../demo/seed-demo';
import { FixedClock } from '../fhir/clock';
import { Repository } from '../fhir/repository';
import { type LoopbackSmtpServer, startLoopbackSmtpServer } from '../../test/support/mail/loopback-smtp-server';
import { SmtpMailer } from '../mail/smtp-mailer';
import { openTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { accessChangeNoticeJob } from './access-change-notice-job';
import { advisoryLockKey } from './advisory-lock';
import { expireSecretsJob } from './expire-secrets-job';
import type { JobDeps } from './job-deps';
import { purgeRefreshTokensJob } from './purge-refresh-tokens-job';
import { appendAudit } from '../fhir/audit/audit-log';
import { JOBS, startJobs } from './job-scheduler';

const NOW = new Date('2026-11-22T18:00:00Z');
const DAY = 24 * 60 * 60 * 1000;

describe('scheduled jobs', () => {
  let database: TestDatabase;
  let smtp: LoopbackSmtpServer;
  let mailer: SmtpMailer;
  let clock: FixedClock;
  let deps: JobDeps;

  beforeAll(async () => {
    database = await openTestDatabase();
    smtp = await startLoopbackSmtpServer();
    clock = new FixedClock(NOW);
    mailer = new SmtpMailer({ smtpUrl: smtp.url, from: 'Chartkeeper <no-reply@chartkeeper.local>', clock });
    await seedDemoFamily(new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: 'http://localhost/fhir' }));
    deps = { db: database.db, clock, mailer, timeZone: 'America/Los_Angeles', policy: WESTMED_POLICY, baseUrl: 'http://localhost:8080' };
  });
  afterAll(async () => {
    await mailer?.close();
    await smtp?.close();
    await database?.close();
  });

  it('turns access records into AuditEvents every second in the audit-pass job, without anyone reading them', async () => {
    const count = async (): Promise<{ pending: number; events: number }> => {
      const pending = await database.db
        .selectFrom('audit_log')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      const events = await database.db
        .selectFrom('resource')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('resource_type', '=', 'AuditEvent')
        .executeTakeFirstOrThrow();
      return { pending: Number(pending.n), events: Number(events.n) };
    };
    const before = await count();
    expect(before.pending).toBe(0);
    const agent = { who: { display: 'Dr. Chen' }, requestor: true };
    await appendAudit(database.db, [
      { patientId: 'p-audit-1', agent, interaction: 'read', resources: ['Observation/a'], recorded: new Date(NOW.getTime()) },
      { patientId: 'p-audit-2', agent, interaction: 'read', resources: ['Observation/b'], recorded: new Date(NOW.getTime()) },
    ]);
    expect((await count()).pending).toBe(before.pending + 2);
    const job = JOBS.find((j) => j.name === 'audit-pass');
    expect(job?.schedule).toBe('* * * * * *');
    const jobs = startJobs(deps, [job!]);
    try {
      const deadline = Date.now() + 30_000;
      while ((await count()).pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    } finally {
      await jobs.stop();
    }
    const after = await count();
    expect(after.pending).toBe(0);
    expect(after.events).toBe(before.events + 2);
  });

  it('deletes secrets a week past expiry or use, and stale throttle counters', async () => {
    const secrets = new SecretStore(database.db, clock);
    const issue = (secret: string, ttlMs: number) => secrets.issue({ purpose: 'password-reset', secret, ttlMs });
    const longExpired = await issue('a', -8 * DAY);
    const recentlyExpired = await issue('b', -1 * DAY);
    const live = await issue('c', DAY);
    const usedLongAgo = await issue('d', 30 * DAY);
    await database.db
      .updateTable('one_time_secret')
      .set({ used_at: new Date(NOW.getTime() - 8 * DAY) })
      .where('id', '=', usedLongAgo.id)
      .execute();
    const throttle = new ThrottleStore(database.db, new FixedClock(new Date(NOW.getTime() - 2 * DAY)));
    await throttle.recordFailure({ key: 'old', policy: ACCOUNT_LOGIN_THROTTLE });
    await new ThrottleStore(database.db, clock).recordFailure({ key: 'new', policy: ACCOUNT_LOGIN_THROTTLE });

    expect(await expireSecretsJob(deps)).toEqual({ secrets: 2, throttles: 1 });
    const left = await database.db.selectFrom('one_time_secret').select('id').execute();
    expect(left.map((r) => r.id).sort()).toEqual([recentlyExpired.id, live.id].sort());
    expect(left.map((r) => r.id)).not.toContain(longExpired.id);
    expect((await database.db.selectFrom('throttle').select('key').execute()).map((r) => r.key)).toEqual(['new']);
  });

  it('purges expired refresh tokens only (used ones stay until expiry, to catch reuse)', async () => {
    const account = await database.db
      .selectFrom('account')
      .select('id')
      .where('email', '=', DEMO_PEOPLE.ada.email as string)
      .executeTakeFirstOrThrow();
    const row = (id: string, expiresAt: Date, usedAt: Date | null) => ({
      id,
      account_id: account.id,
      family_id: 'f1',
      token_hash: `hash-${id}`,
      expires_at: expiresAt,
      created_at: NOW,
      used_at: usedAt,
      revoked_at: null,
    });
    await database.db
      .insertInto('refresh_token')
      .values([
        row('expired', new Date(NOW.getTime() - 1000), null),
        row('used', new Date(NOW.getTime() + DAY), NOW),
        row('live', new Date(NOW.getTime() + DAY), null),
      ])
      .execute();
    expect(await purgeRefreshTokensJob(deps)).toBe(1);
    expect((await database.db.selectFrom('refresh_token').select('id').orderBy('id').execute()).map((r) => r.id)).toEqual(['live', 'used']);
  });

  it('tells Cara and her mother a week before her 18th birthday, once', async () => {
    const eighteenth = birthdayOf(demoBirthDate(DEMO_PEOPLE.cara, NOW), 18);
    clock.set(`${addDays(eighteenth, -7)}T17:00:00Z`); // 09:00 in Seattle
    const before = smtp.received.length;
    const result = await accessChangeNoticeJob(deps);
    expect(result).toEqual({
      changeDate: eighteenth,
      alreadySent: false,
      sent: [
        { patientId: expect.any(String), to: 'cara.park@example.com', audience: 'patient', changeDate: eighteenth, age: 18 },
        { patientId: expect.any(String), to: 'ada.park@example.com', audience: 'family-member', changeDate: eighteenth, age: 18 },
      ],
    });
    const mails = smtp.received.slice(before);
    expect(mails.map((m) => m.envelopeTo)).toEqual([['cara.park@example.com'], ['ada.park@example.com']]);
    expect(mails[0].message.subject).toMatch(/^Family access to your portal account changes on July 2, 20\d\d$/);
    expect(mails[1].message.subject).toMatch(/^Family access to Cara’s portal account changes on July 2, 20\d\d$/);
    expect(mails[1].message.text).toContain('family members will no longer have access, unless the patient invites them again');
    // No health information: only the date and the settings link.
    expect(mails[1].message.text).not.toMatch(/diagnos|medication|allerg/i);

    clock.advance(60 * 60 * 1000); // the next hourly tick, or another instance
    expect(await accessChangeNoticeJob(deps)).toEqual({ changeDate: eighteenth, alreadySent: true, sent: [] });
    expect(smtp.received.length).toBe(before + 2);
  });

  it('tells Ada a week before Ben turns 13 that she will see billing only', async () => {
    const thirteenth = birthdayOf(demoBirthDate(DEMO_PEOPLE.ben, NOW), 13);
    clock.set(`${addDays(thirteenth, -7)}T17:00:00Z`);
    const before = smtp.received.length;
    const result = await accessChangeNoticeJob(deps);
    // Ben has no email of his own and no login: only his mother hears.
    expect(result?.sent.map((s) => [s.to, s.audience, s.age])).toEqual([['ada.park@example.com', 'family-member', 13]]);
    expect(smtp.received[before].message.text).toContain(
      'family members will see billing only, unless the patient grants them full access',
    );
  });

  const onPostgres = process.env.DATABASE_URL ? it : it.skip;
  onPostgres('skips the run while another instance holds the job’s advisory lock (PostgreSQL; PGlite has one connection)', async () => {
    clock.set(NOW);
    const other = new Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock($1::bigint)', [advisoryLockKey('purge-refresh-tokens').toString()]);
      expect(await purgeRefreshTokensJob(deps)).toBeUndefined();
      await other.query('select pg_advisory_unlock($1::bigint)', [advisoryLockKey('purge-refresh-tokens').toString()]);
      expect(await purgeRefreshTokensJob(deps)).toBe(0);
    } finally {
      await other.end();
    }
  });
});
