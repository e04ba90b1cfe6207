import { agePolicyByName } from '../access/age-policy-profiles';
import { migrateToLatest } from '../db/migrator';
import { openDatabase } from '../db/database';
import { isEmpty, seedDemoFamily } from '../demo/seed-demo';
import { serveForever } from '../main';
import { parseArgs } from './cli-args';
import { backupCommand } from './backup-command';
import { cliConfig, withSystemRepository } from './cli-context';
import { importCcdaCommand } from './import-ccda-command';
import { importCommand } from './import-command';
import { restoreCommand } from './restore-command';
import { tokenCommand } from './token-command';
import { clientCommand } from './client-command';

const HELP = `chartkeeper <command>

  serve                    start the HTTP service (PORT, DATABASE_URL, DATA_DIR)
  migrate                  apply database migrations
  seed [--force]           load the demo family (skipped when patients exist, unless --force)
  import FILE|DIR...       import FHIR JSON resources or Bundles; files imported before (same SHA-256) are skipped,
                           a changed file of a name imported before is refused unless --reimport-changed
  import-ccda FILE|DIR...  import C-CDA documents (any vendor, R1.1 or R2.1) as FHIR
  token --staff [--sub X]  print a signed bearer token for a staff user
  client add|list|remove   register SMART apps: --name N --redirect-uri URI (--public | --jwks FILE);
                           a backend service: --name N --jwks FILE --organization ID
  backup FILE              copy the embedded database, signing key and mail outbox into FILE (server stopped)
  restore FILE             restore such a backup into an empty data folder (PostgreSQL: docs/OPERATIONS.md)

  --data-dir DIR           the embedded database's folder (default ./data); DATABASE_URL selects PostgreSQL
`;

/** Runs one CLI command and returns its exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  switch (args.command) {
    case 'serve':
      await serveForever(cliConfig(args));
      return -1; // keeps running
    case 'migrate': {
      const database = await openDatabase(cliConfig(args));
      try {
        const applied = await migrateToLatest(database.db);
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
      } finally {
        await database.close();
      }
      return 0;
    }
    case 'seed':
      return withSystemRepository(cliConfig(args), async (repo) => {
        if (!args.flags.force && !(await isEmpty(repo))) {
          process.stdout.write('patients already exist; not seeding (use --force to add the demo family anyway)\n');
          return 0;
        }
        const result = await seedDemoFamily(repo, { policy: agePolicyByName(cliConfig(args).agePolicy) });
        process.stdout.write(`demo family loaded: ${result.resources} resources\n`);
        return 0;
      });
    case 'import':
      return importCommand(args);
    case 'import-ccda':
      return importCcdaCommand(args);
    case 'token':
      return tokenCommand(args);
    case 'client':
      return clientCommand(args);
    case 'backup':
      return backupCommand(args);
    case 'restore':
      return restoreCommand(args);
    case 'help':
    case '--help':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`unknown command "${args.command}"\n\n${HELP}`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err) => {
      process.stderr.write(`chartkeeper: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
