/**
 * A write check the layers above give the repository: rules that only some callers' writes obey (the portal's
 * message rules) live with their feature, and the repository runs them through this interface instead of
 * importing them, so the resource layer depends on nothing above it.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { AccessScope } from '../access/access-scope';
import type { Tables } from '../db/tables';
import type { BinaryStore, ReceivedContent } from './binary/binary-store';

/** The files of the write being checked: content received with it (by SHA-256), and Binaries moved from inline. */
export interface WriteFiles {
  readonly store: BinaryStore;
  readonly received: ReadonlyMap<string, ReceivedContent>;
  readonly movedInline: ReadonlySet<string>;
}

/** What a write check may look at: the writer's view of the database, and the transaction's own writes. */
export interface WriteCheckSession {
  readonly db: Kysely<Tables>;
  readonly scope: AccessScope;
  /** Resources written earlier in the same transaction, which the database does not hold yet. */
  readonly batch: readonly Resource[];
  /** Base URL of the FHIR API, so the service's own absolute URLs can be recognised. */
  readonly fhirBase: string;
  /** The files of this write, and the store that keeps the others. */
  readonly files?: WriteFiles;
  /** The stored version this write replaces (an update), as it is in the database; absent for a create. */
  readonly replaced?: Resource;
  /** The writer named the version this write replaces (If-Match). */
  readonly versionChecked?: boolean;
  /** The time of the write (the repository's clock), for rules about the future and the past. */
  readonly now?: Date;
  /** The current version of a resource if the writer may see it (the transaction's own writes first). */
  readVisible<T extends Resource>(type: T['resourceType'], id: string): Promise<T | undefined>;
}

/** Throws an OperationOutcome error when `resource`, in these patients' records, breaks a rule. */
export type WriteCheck = (resource: Resource, patientIds: readonly string[], session: WriteCheckSession) => Promise<void>;
