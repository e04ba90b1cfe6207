import fs from 'node:fs';
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import { importCcda } from '../portal/records/ccda-import-service';
import type { CliArgs } from './cli-args';
import { RESOURCE_TABLES } from '../db/table-statistics';
import { cliConfig, withSystemRepository } from './cli-context';

/** Files under the given paths that hold a CDA document (by a look at their start, whatever the extension). */
export function listCdaFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const stat = fs.statSync(p);
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
    } else if (looksLikeCda(p)) {
      out.push(p);
    }
  };
  paths.forEach(walk);
  return out;
}

function looksLikeCda(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(8192);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return /<(\w+:)?ClinicalDocument[\s>]/.test(head.subarray(0, n).toString('latin1'));
  } finally {
    fs.closeSync(fd);
  }
}

/** `chartkeeper import-ccda FILE|DIR...`: C-CDA documents into FHIR, with a progress bar and a line per file. */
export async function importCcdaCommand(args: CliArgs): Promise<number> {
  if (!args.positional.length) {
    process.stderr.write('usage: chartkeeper import-ccda FILE|DIR...\n');
    return 2;
  }
  const files = listCdaFiles(args.positional);
  const config = cliConfig(args);
  return withSystemRepository(
    config,
    async (repo) => {
      const bar = new SingleBar({ format: 'importing [{bar}] {value}/{total} documents', stream: process.stderr, hideCursor: true });
      const lines: string[] = [];
      const failures: string[] = [];
      let resources = 0;
      let patientsCreated = 0;
      const started = Date.now();
      bar.start(files.length, 0);
      for (const file of files) {
        try {
          const summary = await importCcda(repo, fs.readFileSync(file), {
            maxBytes: config.maxXmlBytes,
            parseHeapMb: config.ccdaParseHeapMb,
          });
          const created = Object.values(summary.created).reduce((a, b) => a + b, 0);
          const updated = Object.values(summary.updated).reduce((a, b) => a + b, 0);
          resources += created;
          if (summary.patient.match === 'created') patientsCreated++;
          lines.push(
            `${file}: ${summary.document.kind} ${summary.document.release}, patient ${summary.patient.match}, ${created} created, ${updated} updated, ${summary.warnings.length} warnings${summary.document.alreadyImported ? ' (already imported)' : ''}`,
          );
        } catch (err) {
          const outcome = (err as { outcome?: { issue?: { details?: { text?: string } }[] } }).outcome;
          failures.push(`${file}: ${outcome?.issue?.map((i) => i.details?.text).join('; ') ?? (err as Error).message}`);
        }
        bar.increment();
      }
      bar.stop();
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(
        [
          ...lines,
          ...(failures.length ? ['failed:', ...failures.map((f) => `  ${f}`)] : []),
          `Imported ${files.length - failures.length} of ${files.length} documents in ${seconds.toFixed(1)} s (${(files.length / Math.max(seconds, 0.001)).toFixed(1)} documents/s): ${resources} resources created, ${patientsCreated} new patients, ${failures.length} failed`,
          '',
        ].join('\n'),
      );
      return failures.length ? 1 : 0;
    },
    RESOURCE_TABLES,
  );
}
