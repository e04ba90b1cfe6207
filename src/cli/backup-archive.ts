/**
 * The embedded database's backup file: one zip holding PGlite's own dump of its data directory (a tar.gz, so
 * PostgreSQL's files as they are, restored bit for bit), the signing key (tokens and links signed before still
 * verify) and the mail outbox, with a manifest naming what it holds so a restore can check it before writing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { strFromU8, strToU8, unzipSync, type Zippable, zipSync } from 'fflate';

/** The first entry of every backup: what it is and what it holds. */
export interface BackupManifest {
  readonly format: 'chartkeeper-embedded-backup';
  readonly formatVersion: 1;
  readonly createdAt: string;
  readonly chartkeeperVersion: string;
  /** Migrations applied to the database at backup time. */
  readonly migrations: readonly string[];
  /** Live resources by type at backup time, to check a restore against. */
  readonly resources: Readonly<Record<string, number>>;
}

/** A backup's contents, in memory. */
export interface BackupContents {
  readonly manifest: BackupManifest;
  /** PGlite's dumpDataDir() output (tar.gz). */
  readonly pgdata: Uint8Array;
  /** Files of the data folder besides the database (keys/..., outbox/...), by path relative to it. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

const MANIFEST = 'chartkeeper-backup.json';
const PGDATA = 'pgdata.tar.gz';
/** The folders of the data dir a backup carries besides the database. */
export const BACKED_UP_FOLDERS = ['keys', 'outbox'] as const;

/** Thrown for a file that is not a Chartkeeper embedded backup (or is damaged). */
export class BackupFormatError extends Error {}

/** The zip bytes of a backup. */
export function packBackup(contents: BackupContents): Uint8Array {
  const entries: Zippable = { [MANIFEST]: strToU8(JSON.stringify(contents.manifest, null, 2)) };
  // Already gzipped: stored as is.
  entries[PGDATA] = [contents.pgdata, { level: 0 }];
  for (const [name, bytes] of contents.files) entries[`data/${name}`] = bytes;
  return zipSync(entries, { level: 6 });
}

/** Reads a backup's zip bytes, checking that it is one. */
export function unpackBackup(zip: Uint8Array): BackupContents {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch (err) {
    throw new BackupFormatError(`not a Chartkeeper backup (not a readable zip: ${(err as Error).message})`);
  }
  const manifestBytes = entries[MANIFEST];
  const pgdata = entries[PGDATA];
  if (!manifestBytes || !pgdata) throw new BackupFormatError(`not a Chartkeeper backup (no ${MANIFEST} or ${PGDATA} in it)`);
  const manifest = JSON.parse(strFromU8(manifestBytes)) as BackupManifest;
  if (manifest.format !== 'chartkeeper-embedded-backup' || manifest.formatVersion !== 1) {
    throw new BackupFormatError(`not a backup this version can restore (format ${manifest.format} ${manifest.formatVersion})`);
  }
  const files = new Map<string, Uint8Array>();
  for (const [name, bytes] of Object.entries(entries)) {
    if (!name.startsWith('data/') || name.endsWith('/')) continue;
    const relative = name.slice('data/'.length);
    // Only the folders a backup writes, and nothing that climbs out of the data folder.
    const top = relative.split('/')[0];
    if (!(BACKED_UP_FOLDERS as readonly string[]).includes(top) || relative.split('/').includes('..'))
      throw new BackupFormatError(`unexpected entry ${name} in the backup`);
    files.set(relative, bytes);
  }
  return { manifest, pgdata, files };
}

/** The files under dataDir's backed-up folders, by relative path. */
export function readDataFiles(dataDir: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const folder of BACKED_UP_FOLDERS) {
    const root = path.join(dataDir, folder);
    if (!fs.existsSync(root)) continue;
    for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const full = path.join(entry.parentPath, entry.name);
      files.set(path.relative(dataDir, full).split(path.sep).join('/'), fs.readFileSync(full));
    }
  }
  return files;
}

/** Writes `bytes` to `file` whole or not at all (a temporary file renamed into place), readable by the owner only. */
export function writeFileAtomically(file: string, bytes: Uint8Array): void {
  const temporary = `${file}.${process.pid}.partial`;
  fs.writeFileSync(temporary, bytes, { mode: 0o600 });
  fs.renameSync(temporary, file);
}
