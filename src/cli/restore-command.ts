import fs from 'node:fs';
import path from 'node:path';
import { Kysely } from 'kysely';
import { lockDataDir } from '../db/data-dir-lock';
import { PGliteDialect } from '../db/pglite-dialect';
import { BackupFormatError, unpackBackup } from './backup-archive';
import { appliedMigrations, liveResourceCounts } from './backup-command';
import type { CliArgs } from './cli-args';
import { embeddedFileCommand } from './cli-context';

const USAGE = 'usage: chartkeeper restore FILE [--data-dir DIR]   (DIR must hold no database yet)\n';

/**
 * `chartkeeper restore FILE`: a backup made by `chartkeeper backup` into a data folder that holds no database, checked
 * against the backup's manifest (its migrations and resource counts) before it is reported done. A newer Chartkeeper
 * migrates the restored database when it starts.
 */
export async function restoreCommand(args: CliArgs): Promise<number> {
  const call = embeddedFileCommand(args, 'restore', USAGE, 'pg_restore');
  if (typeof call === 'number') return call;
  const { file, config } = call;
  const databaseDir = path.join(config.dataDir, 'pglite');
  // Never over a database or key already there: restoring is for a new folder (or one emptied on purpose).
  const occupied = ['pglite', 'keys'].filter(
    (folder) => fs.existsSync(path.join(config.dataDir, folder)) && fs.readdirSync(path.join(config.dataDir, folder)).length,
  );
  if (occupied.length) {
    process.stderr.write(`${config.dataDir} already holds ${occupied.join(' and ')}: restore into an empty data folder (--data-dir)\n`);
    return 1;
  }
  let contents;
  try {
    contents = unpackBackup(fs.readFileSync(file));
  } catch (err) {
    if (err instanceof BackupFormatError) {
      process.stderr.write(`${file}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const lock = lockDataDir(config.dataDir);
  try {
    fs.mkdirSync(databaseDir, { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create(databaseDir, { loadDataDir: new Blob([contents.pgdata]) });
    try {
      const db = new Kysely<unknown>({ dialect: new PGliteDialect(pglite) });
      const migrations = await appliedMigrations(db);
      const resources = await liveResourceCounts(db);
      if (
        JSON.stringify(migrations) !== JSON.stringify(contents.manifest.migrations) ||
        JSON.stringify(resources) !== JSON.stringify(contents.manifest.resources)
      ) {
        throw new Error(`the restored database does not match the backup's manifest (${file} is damaged?)`);
      }
    } finally {
      await pglite.close();
    }
    for (const [relative, bytes] of contents.files) {
      const target = path.join(config.dataDir, relative);
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      fs.writeFileSync(target, bytes, { mode: relative.startsWith('keys/') ? 0o600 : 0o644 });
    }
    const total = Object.values(contents.manifest.resources).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `restored ${file} (made ${contents.manifest.createdAt}) into ${config.dataDir}: ${total} resources, ${contents.files.size} files\n`,
    );
    return 0;
  } finally {
    lock.release();
  }
}
