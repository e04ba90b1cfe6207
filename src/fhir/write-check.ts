/**
 * A write check the layers above give the repository: rules that only some callers' writes obey (the portal's
 * message rules) live with their feature, and the repository runs them through this interface instead of
 * importing them, so the resource layer depends on nothing above it.
 */
import type { Binary, Resource } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { AccessScope } from '../access/access-scope';
import type { Tables } from '../db/tables';

/** What a write check may look at: the writer's view of the database, and the transaction's own writes. */
export interface WriteCheckSession {
  readonly db: Kysely<Tables>;
  readonly scope: AccessScope;
  /** Resources written earlier in the same transaction, which the database does not hold yet. */
  readonly batch: readonly Resource[];
  /** Base URL of the FHIR API, so the service's own absolute URLs can be recognised. */
  readonly fhirBase: string;
  /** The current version of a resource if the writer may see it (the transaction's own writes first). */
  readVisible<T extends Resource>(type: T['resourceType'], id: string): Promise<T | undefined>;
  /** The size and first bytes (up to 16) of a Binary's content: received with this write, or read from the store. */
  fileOf(binary: Binary): Promise<{ readonly size: number; readonly head: Uint8Array } | undefined>;
  /** Whether this Binary of the write is an inline attachment moved out of the resource written with it. */
  movedInline(id: string): boolean;
}

/** Throws an OperationOutcome error when `resource`, in these patients' records, breaks a rule. */
export type WriteCheck = (resource: Resource, patientIds: readonly string[], session: WriteCheckSession) => Promise<void>;
