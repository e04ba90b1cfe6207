import fs from 'node:fs';
import path from 'node:path';
import { Kysely, sql } from 'kysely';
import packageJson from '../../package.json';
import { lockDataDir } from '../db/data-dir-lock';
import { PGliteDialect } from '../db/pglite-dialect';
import { type BackupManifest, packBackup, readDataFiles, writeFileAtomically } from './backup-archive';
import type { CliArgs } from './cli-args';
import { embeddedFileCommand } from './cli-context';

/** The package version, recorded in the manifest. */
const VERSION: string = packageJson.version;

const USAGE = "usage: chartkeeper backup FILE [--data-dir DIR]   (stop the server first: the embedded database is one process's)\n";

/**
 * `chartkeeper backup FILE`: the embedded database (PGlite's dump of its data directory), the signing key and the mail
 * outbox, in one file. The data folder is locked meanwhile, so no server writes while it is copied. On PostgreSQL
 * the database's own tools do this (docs/OPERATIONS.md).
 */
export async function backupCommand(args: CliArgs): Promise<number> {
  const call = embeddedFileCommand(args, 'backup', USAGE, 'pg_dump');
  if (typeof call === 'number') return call;
  const { file, config } = call;
  if (!fs.existsSync(path.join(config.dataDir, 'pglite', 'PG_VERSION'))) {
    process.stderr.write(`no embedded database in ${config.dataDir} to back up\n`);
    return 1;
  }
  const lock = lockDataDir(config.dataDir);
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create(path.join(config.dataDir, 'pglite'));
    try {
      const db = new Kysely<unknown>({ dialect: new PGliteDialect(pglite) });
      const manifest: BackupManifest = {
        format: 'chartkeeper-embedded-backup',
        formatVersion: 1,
        createdAt: new Date().toISOString(),
        chartkeeperVersion: VERSION,
        migrations: await appliedMigrations(db),
        resources: await liveResourceCounts(db),
      };
      // Everything written so far goes to the data files, so the dump needs no WAL replay to be whole.
      await pglite.exec('checkpoint');
      const dump = await pglite.dumpDataDir('gzip');
      const pgdata = new Uint8Array(await dump.arrayBuffer());
      const bytes = packBackup({ manifest, pgdata, files: readDataFiles(config.dataDir) });
      writeFileAtomically(path.resolve(file), bytes);
      const total = Object.values(manifest.resources).reduce((a, b) => a + b, 0);
      process.stdout.write(
        `backed up ${config.dataDir} to ${file}: ${total} resources, ${manifest.migrations.length} migrations, ${(bytes.length / 1024 / 1024).toFixed(1)} MB\n`,
      );
      return 0;
    } finally {
      await pglite.close();
    }
  } finally {
    lock.release();
  }
}

/** The migrations recorded in the database, in order. */
export async function appliedMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`
    .execute(db)
    .catch(() => ({ rows: [] as { name: string }[] }));
  return rows.map((r) => r.name);
}

/** Live (not deleted) resources by type. */
export async function liveResourceCounts<DB>(db: Kysely<DB>): Promise<Record<string, number>> {
  const { rows } = await sql<{ resource_type: string; n: number }>`
    select resource_type, count(*)::int as n from resource where not deleted group by resource_type order by resource_type`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.resource_type, r.n]));
}
