/** The agent column of export_job: whom an export's audit records name, and the requester's SMART query filters. */
import type { AuditEventAgent } from '@medplum/fhirtypes';
import type { ResourceFilter } from '../../access/resource-filter';

/**
 * What export_job.agent holds: the AuditEvent agent its audit records name and the requester's SMART query filters
 * (KeptAccess.resourceFilters), kept together as one JSON value. A row written before the filters were kept holds
 * the agent alone; such an export was kicked off without its query filters, so it keeps none (and its files are read
 * only by a caller holding no query filter either: holdsKeptAccess).
 */
export interface StoredAgent {
  readonly agent: AuditEventAgent | null;
  readonly resourceFilters: Readonly<Record<string, readonly ResourceFilter[]>> | null;
}

/** The agent column's value for a new export. */
export function storedAgentColumn(value: StoredAgent): string {
  return JSON.stringify({ agent: value.agent, resourceFilters: value.resourceFilters });
}

/** Reads the agent column (jsonb, or its text). */
export function readStoredAgent(column: unknown): StoredAgent {
  const value: unknown = typeof column === 'string' ? JSON.parse(column) : column;
  if (!value || typeof value !== 'object') return { agent: null, resourceFilters: null };
  if ('resourceFilters' in value) {
    const stored = value as { agent?: AuditEventAgent | null; resourceFilters?: Record<string, readonly ResourceFilter[]> | null };
    return { agent: stored.agent ?? null, resourceFilters: stored.resourceFilters ?? null };
  }
  return { agent: value as AuditEventAgent, resourceFilters: null };
}
