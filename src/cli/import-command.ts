import { SingleBar } from 'cli-progress';
import { importFhirFile, listJsonFiles } from '../fhir/fhir-file-import';
import type { CliArgs } from './cli-args';
import { cliConfig, withSystemRepository } from './cli-context';

/** `chartkeeper import FILE|DIR...`: FHIR JSON resources and Bundles, with a progress bar and a summary. */
export async function importCommand(args: CliArgs): Promise<number> {
  if (!args.positional.length) {
    process.stderr.write('usage: chartkeeper import FILE|DIR...\n');
    return 2;
  }
  const files = listJsonFiles(args.positional);
  const config = cliConfig(args);
  return withSystemRepository(config, async (repo) => {
    const bar = new SingleBar({ format: 'importing [{bar}] {value}/{total} files | {resources} resources', stream: process.stderr, hideCursor: true });
    const totals: Record<string, number> = {};
    const failures: { file: string; error: string }[] = [];
    let resources = 0;
    const started = Date.now();
    bar.start(files.length, 0, { resources });
    for (const file of files) {
      const result = await importFhirFile(repo, file);
      for (const [type, n] of Object.entries(result.created)) {
        totals[type] = (totals[type] ?? 0) + n;
        resources += n;
      }
      if (result.error) failures.push({ file, error: result.error });
      bar.increment(1, { resources });
    }
    bar.stop();
    const seconds = (Date.now() - started) / 1000;
    const lines = Object.entries(totals)
      .sort((a, b) => b[1] - a[1])
      .map(([type, n]) => `  ${type.padEnd(24)} ${n}`);
    process.stdout.write(
      [
        `Imported ${resources} resources from ${files.length - failures.length} of ${files.length} files in ${seconds.toFixed(1)} s (${Math.round(resources / Math.max(seconds, 0.001))} resources/s)`,
        ...lines,
        ...(failures.length ? [`${failures.length} file(s) failed:`, ...failures.map((f) => `  ${f.file}: ${f.error}`)] : []),
        '',
      ].join('\n'),
    );
    return failures.length ? 1 : 0;
  });
}
