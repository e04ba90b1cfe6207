/**
 * Access records written by the statement that serves the rows they record, instead of by a separate insert
 * (audit-log.ts appendAudit): the same entries in the same table, committed with the statement.
 */
import type { AuditEventAgent } from '@medplum/fhirtypes';
import { type RawBuilder, sql } from 'kysely';
import type { AuditInteraction } from '../../access/audit-event';

/** What a statement that serves rows records of them itself (recordServed): who acted, how, and when. */
export interface ServedRecord {
  readonly agent: AuditEventAgent;
  readonly interaction: AuditInteraction;
  readonly recorded: Date;
}

/**
 * The body of a data-modifying CTE that records the rows of `served` (a relation with `type`, `id` and `compartments`)
 * as appendAudit would: one entry per patient whose compartment holds a served row, naming those rows. It commits
 * with the statement that serves them, so nothing is served unrecorded, and spares the request the round trip and the
 * wait of a separate insert (a staff search then costs one statement instead of two). `recorded`: the record's time as
 * ISO text, or the slot a statement compiled once per shape binds it to (search/statement-cache.ts).
 */
export function recordServed(
  served: RawBuilder<unknown>,
  record: ServedRecord,
  recorded: unknown = record.recorded.toISOString(),
): RawBuilder<unknown> {
  return sql`insert into audit_log (entry)
    select jsonb_build_object('patientId', c.patient_id, 'agent', ${JSON.stringify(record.agent)}::jsonb, 'interaction', ${record.interaction}::text,
      'resources', jsonb_agg(distinct s.type || '/' || s.id), 'recorded', ${recorded}::text)
    from ${served} s cross join lateral unnest(s.compartments) as c(patient_id)
    group by c.patient_id`;
}
