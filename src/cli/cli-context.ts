import type { Config } from '../config';
import { loadConfig } from '../config';
import { Database, openDatabase } from '../db/database';
import { migrateToLatest } from '../db/migrator';
import { analyzeTables } from '../db/table-statistics';
import { unrestrictedScope } from '../access/access-scope';
import { systemClock } from '../fhir/clock';
import { loadFhirDefinitions } from '../fhir/definitions';
import { databaseBinaryStoreFor } from '../fhir/binary/database-binary-store';
import { Repository } from '../fhir/repository';
import type { CliArgs } from './cli-args';

/** The configuration a CLI command runs with: the environment, with --data-dir applied. */
export function cliConfig(args: CliArgs): Config {
  const dataDir = typeof args.flags['data-dir'] === 'string' ? { DATA_DIR: args.flags['data-dir'] } : {};
  return loadConfig({ ...process.env, ...dataDir });
}

/**
 * The one FILE argument and the configuration of a command for the embedded database only (backup, restore), or
 * the exit code after saying why not: 2 for a wrong call or a DATABASE_URL (whose own tool, `pgTool`, does this).
 */
export function embeddedFileCommand(
  args: CliArgs,
  command: string,
  usage: string,
  pgTool: string,
): { file: string; config: Config } | number {
  const [file] = args.positional;
  if (!file || args.positional.length > 1) {
    process.stderr.write(usage);
    return 2;
  }
  const config = cliConfig(args);
  if (config.databaseUrl) {
    process.stderr.write(`chartkeeper ${command} is for the embedded database; with DATABASE_URL use ${pgTool} (see docs/OPERATIONS.md)\n`);
    return 2;
  }
  return { file, config };
}

/**
 * Opens and migrates the database, runs fn with a system repository, and closes it again. `analyze`: the tables to
 * analyse once fn is done (what an import filled), so that searches right after it are planned from what is there.
 */
export async function withSystemRepository<T>(
  config: Config,
  fn: (repo: Repository, database: Database) => Promise<T>,
  analyze: readonly string[] = [],
): Promise<T> {
  const database = await openDatabase(config);
  try {
    await migrateToLatest(database.db);
    loadFhirDefinitions();
    const repo = new Repository(database.db, {
      scope: unrestrictedScope('cli'),
      clock: systemClock,
      fhirBase: `${config.baseUrl}/fhir`,
      maxBinaryBytes: config.maxBinaryBytes,
      binaries: databaseBinaryStoreFor(database.kind),
    });
    const result = await fn(repo, database);
    if (analyze.length) await analyzeTables(database.db, analyze);
    return result;
  } finally {
    await database.close();
  }
}
