import { SingleBar } from 'cli-progress';
import { importFhirFiles, listJsonFiles, startPreparationFor } from '../fhir/fhir-file-import';
import type { CliArgs } from './cli-args';
import { RESOURCE_TABLES } from '../db/table-statistics';
import { cliConfig, withSystemRepository } from './cli-context';

/**
 * `chartkeeper import FILE|DIR... [--workers=N] [--concurrency=N] [--reimport-changed]`: FHIR JSON resources and
 * Bundles, each file in one transaction, validated and indexed on worker threads, with a progress bar and a summary.
 * Files imported before (the same SHA-256) are skipped, so a run cut short is finished by running it again.
 */
export async function importCommand(args: CliArgs): Promise<number> {
  if (!args.positional.length) {
    process.stderr.write('usage: chartkeeper import FILE|DIR... [--workers=N] [--concurrency=N] [--reimport-changed]\n');
    return 2;
  }
  const workers = numberFlag(args, 'workers');
  const concurrency = numberFlag(args, 'concurrency');
  if (workers === null || concurrency === null) {
    process.stderr.write('--workers= and --concurrency= take a whole number\n');
    return 2;
  }
  const files = listJsonFiles(args.positional);
  const config = cliConfig(args);
  // The workers load the FHIR definitions (a second or two) while this thread opens the database and loads its own.
  const preparation = startPreparationFor(files, workers);
  return withSystemRepository(
    config,
    async (repo) => {
      const bar = new SingleBar({
        format: 'importing [{bar}] {value}/{total} files | {resources} resources',
        stream: process.stderr,
        hideCursor: true,
      });
      // Without a terminal (a log, CI, a pipe) the bar draws nothing: a line per file says how far the import got.
      const fileLines = !process.stderr.isTTY;
      let resources = 0;
      bar.start(files.length, 0, { resources });
      const summary = await importFhirFiles(repo, files, {
        preparation,
        workers,
        concurrency,
        reimportChanged: args.flags['reimport-changed'] === true,
        onFile: (result) => {
          const created = Object.values(result.created).reduce((a, b) => a + b, 0);
          resources += created;
          bar.increment(1, { resources });
          if (fileLines)
            process.stderr.write(
              `${result.file}: ${result.error ? `failed: ${result.error}` : (result.skipped ?? `${created} resources`)}\n`,
            );
        },
      });
      bar.stop();
      const { failures, skipped } = summary;
      const lines = Object.entries(summary.created)
        .sort((a, b) => b[1] - a[1])
        .map(([type, n]) => `  ${type.padEnd(24)} ${n}`);
      process.stdout.write(
        [
          `Imported ${summary.resources} resources from ${files.length - failures.length - skipped.length} of ${files.length} files in ${summary.seconds.toFixed(1)} s (${Math.round(summary.resources / Math.max(summary.seconds, 0.001))} resources/s)`,
          ...lines,
          ...(skipped.length ? [`${skipped.length} file(s) skipped: imported before (the same SHA-256)`] : []),
          ...(failures.length ? [`${failures.length} file(s) failed:`, ...failures.map((f) => `  ${f.file}: ${f.error}`)] : []),
          '',
        ].join('\n'),
      );
      return failures.length ? 1 : 0;
    },
    RESOURCE_TABLES,
  ).finally(() => preparation?.close());
}

/** A non-negative integer flag; undefined when absent, null when malformed. */
function numberFlag(args: CliArgs, name: string): number | undefined | null {
  const value = args.flags[name];
  if (value === undefined) return undefined;
  const n = Number(value);
  return typeof value === 'string' && Number.isInteger(n) && n >= 0 ? n : null;
}
