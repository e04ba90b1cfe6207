import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables';

/**
 * The ledger of imported files (table `imported_file`): `chartkeeper import` records each file's SHA-256 in the
 * transaction that imports it, so a run cut short (kill -9, a crash, a lost database) leaves every file imported
 * and recorded or neither, and running it again skips exactly what is recorded. Keyed by content, not by name: the
 * same bytes under another name are the same import; changed bytes under a name imported before are new content,
 * which the importer refuses unless told otherwise (importing them adds a second copy of what both versions hold).
 */

/** A file as a whole: the `entry` of its row when it was imported in one transaction. */
export const WHOLE_FILE = -1;

/** One row of the ledger. */
export interface ImportRecord {
  readonly sha256: string;
  /** The batch entry the row stands for, or WHOLE_FILE. */
  readonly entry: number;
  readonly fileName: string;
  readonly path: string;
  readonly resources: number;
  readonly importedAt: Date;
}

/** The SHA-256 of a file's bytes, in hex: what the ledger knows a file by. */
export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What the ledger holds for this content: the whole file's row, or one row per batch entry imported. */
export async function findImports(db: Kysely<Tables>, sha256: string): Promise<ImportRecord[]> {
  const rows = await db.selectFrom('imported_file').selectAll().where('sha256', '=', sha256).orderBy('entry').execute();
  return rows.map(recordOf);
}

/** Imports of other content under the same file name (the folder left out), newest first. */
export async function findOtherContentNamed(db: Kysely<Tables>, file: string, sha256: string): Promise<ImportRecord[]> {
  const rows = await db
    .selectFrom('imported_file')
    .selectAll()
    .where('file_name', '=', path.basename(file))
    .where('sha256', '<>', sha256)
    .orderBy('imported_at', 'desc')
    .execute();
  return rows.map(recordOf);
}

/**
 * Records a file (or one batch entry) as imported, inside the transaction that imports it; false when the ledger
 * already holds it. Written before the import's own rows: a second transaction importing the same content at the
 * same time (the same bytes under two names, or two importing processes) waits on this row, and once the first
 * commits, finds it and skips; if the first rolls back, the second goes ahead.
 */
export async function claimImport(trx: Kysely<Tables>, sha256: string, entry: number, file: string, importedAt: Date): Promise<boolean> {
  const inserted = await trx
    .insertInto('imported_file')
    .values({ sha256, entry, file_name: path.basename(file), path: path.resolve(file), resources: 0, imported_at: importedAt })
    .onConflict((oc) => oc.columns(['sha256', 'entry']).doNothing())
    .returning('sha256')
    .execute();
  return inserted.length === 1;
}

/** Notes how many resources the claimed import created, in the same transaction. */
export async function noteImported(trx: Kysely<Tables>, sha256: string, entry: number, resources: number): Promise<void> {
  await trx.updateTable('imported_file').set({ resources }).where('sha256', '=', sha256).where('entry', '=', entry).execute();
}

function recordOf(row: {
  sha256: string;
  entry: number;
  file_name: string;
  path: string;
  resources: number;
  imported_at: Date;
}): ImportRecord {
  return {
    sha256: row.sha256,
    entry: row.entry,
    fileName: row.file_name,
    path: row.path,
    resources: row.resources,
    importedAt: new Date(row.imported_at),
  };
}
