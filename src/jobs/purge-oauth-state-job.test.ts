import { sql } from 'kysely';
import { OauthStateAdapter } from '../auth/smart/oauth-state-adapter';
import { FixedClock } from '../fhir/clock';
import { openTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { purgeOauthStateJob } from './purge-oauth-state-job';

describe('purge-oauth-state', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase();
  });
  afterAll(() => database?.close());

  it('deletes expired codes and tokens only; a used code stays until it expires, so its reuse is still caught', async () => {
    const codes = new OauthStateAdapter(database.db, 'AuthorizationCode');
    await codes.upsert('live', { grantId: 'g1' }, 60);
    await codes.upsert('used', { grantId: 'g2' }, 60);
    await codes.consume('used');
    await codes.upsert('expired', { grantId: 'g3' }, 60);
    await sql`update oauth_state set expires_at = now() - interval '1 second' where id = 'expired'`.execute(database.db);
    expect(await codes.find('expired')).toBeUndefined();
    expect((await codes.find('used'))?.consumed).toEqual(expect.any(Number));

    expect(await purgeOauthStateJob({ db: database.db, clock: new FixedClock(new Date()) })).toBe(1);
    const { rows } = await sql<{ id: string }>`select id from oauth_state order by id`.execute(database.db);
    expect(rows.map((r) => r.id)).toEqual(['live', 'used']);
  });
});
