import { sql } from 'kysely';
import type { TestDatabase } from './test-database';

/**
 * Every stored resource and version but the AuditEvents (which reads leave behind), and the accounts: what a refused
 * request, or a read, must leave exactly as it was.
 */
export async function recordState(database: TestDatabase): Promise<string[]> {
  const { rows } = await sql<{ row: string }>`
    select resource_type || '/' || id || '/' || version || '/' || deleted as row from resource where resource_type <> 'AuditEvent'
    union all select 'history/' || count(*) from resource_history where resource_type <> 'AuditEvent'
    union all select 'account/' || id || '/' || updated_at from account
    order by 1`.execute(database.db);
  return rows.map((r) => r.row);
}
