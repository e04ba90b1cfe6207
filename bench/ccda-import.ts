/**
 * C-CDA import benchmark: parse+map (no database) of every corpus document with parseCcda, and
 * in the same run on the same documents @medplum/ccda (convertXmlToCcda + convertCcdaToFhir) and
 * @amida-tech/blue-button (parse). Prints success rates, per-document medians, MB/s and the
 * ratio against Medplum on the documents both convert; then imports the corpus end to end into a fresh
 * PostgreSQL database (DATABASE_URL or the local server; BENCH_SKIP_POSTGRES=1 skips). Run: npm run bench:ccda-import
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCcda } from '../src/ccda/parse';
import { importCorpusIntoPostgres } from './support/ccda-postgres-import';

const CORPUS = path.resolve(__dirname, '..', '../shared/corpus/ccda');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Doc {
  readonly file: string;
  readonly text: string;
  readonly bytes: number;
}

function listDocuments(dir: string): Doc[] {
  const out: Doc[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listDocuments(file));
    else {
      const text = fs.readFileSync(file, 'utf8');
      // Any extension (.xml, .XML, .txt, .ccd): a document is whatever has a ClinicalDocument root.
      if (/^\s*(<\?[^>]*\?>\s*|<!--[\s\S]*?-->\s*)*<ClinicalDocument\b/.test(text.replace(/^\uFEFF/, '')))
        out.push({ file, text, bytes: Buffer.byteLength(text) });
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Best-of-ROUNDS milliseconds for one call, or the error it threw. */
function time(fn: () => unknown): { ms: number } | { error: string } {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    try {
      fn();
    } catch (err) {
      return {
        error: String((err as Error)?.message ?? err)
          .split('\n')[0]
          .slice(0, 80),
      };
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { ms: best };
}

type Converter = (xml: string) => unknown;

function loadMedplum(): Converter | string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ccda = require('@medplum/ccda') as { convertXmlToCcda: (x: string) => unknown; convertCcdaToFhir: (c: unknown) => unknown };
    return (xml) => ccda.convertCcdaToFhir(ccda.convertXmlToCcda(xml));
  } catch (err) {
    return `@medplum/ccda failed to load: ${(err as Error).message}`;
  }
}

function loadBlueButton(): Converter | string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bb = require('@amida-tech/blue-button') as { parse: (x: string) => unknown };
    return (xml) => bb.parse(xml);
  } catch (err) {
    return `@amida-tech/blue-button failed to load: ${(err as Error).message.split('\n')[0]}`;
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(CORPUS)) {
    console.log(`corpus not found at ${CORPUS}; nothing to measure`);
    return;
  }
  const docs = listDocuments(CORPUS);
  const totalBytes = docs.reduce((sum, d) => sum + d.bytes, 0);
  const medplum = loadMedplum();
  const blueButton = loadBlueButton();
  // The peers log per-document complaints; keep the report readable.
  const quiet = { log: console.log, warn: console.warn, error: console.error };
  const silence = (): void => {
    const mute = (): void => undefined;
    console.log = mute;
    console.warn = mute;
    console.error = mute;
  };
  const restore = (): void => {
    Object.assign(console, quiet);
  };

  // Warm-up: JIT all three on a slice of the corpus before timing.
  silence();
  for (const doc of docs.slice(0, 40)) {
    time(() => parseCcda(doc.text));
    if (typeof medplum === 'function') time(() => medplum(doc.text));
    if (typeof blueButton === 'function') time(() => blueButton(doc.text));
  }
  restore();

  const ours: (number | undefined)[] = [];
  const theirs: (number | undefined)[] = [];
  const amida: (number | undefined)[] = [];
  const ourErrors = new Map<string, number>();
  const medplumErrors = new Map<string, number>();
  const amidaErrors = new Map<string, number>();
  const count = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
  silence();
  for (const doc of docs) {
    const a = time(() => parseCcda(doc.text));
    ours.push('ms' in a ? a.ms : undefined);
    if ('error' in a) count(ourErrors, a.error);
    if (typeof medplum === 'function') {
      const b = time(() => medplum(doc.text));
      theirs.push('ms' in b ? b.ms : undefined);
      if ('error' in b) count(medplumErrors, b.error);
    }
    if (typeof blueButton === 'function') {
      const c = time(() => blueButton(doc.text));
      amida.push('ms' in c ? c.ms : undefined);
      if ('error' in c) count(amidaErrors, c.error);
    }
  }
  restore();

  const ok = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
  const pct = (n: number): string => `${((100 * n) / docs.length).toFixed(1)}%`;
  const mbps = (xs: (number | undefined)[]): string => {
    let bytes = 0;
    let ms = 0;
    xs.forEach((x, i) => {
      if (x !== undefined) {
        bytes += docs[i].bytes;
        ms += x;
      }
    });
    return ms ? (bytes / 1e6 / (ms / 1000)).toFixed(1) : 'n/a';
  };
  console.log(`C-CDA import bench: ${docs.length} documents, ${(totalBytes / 1e6).toFixed(1)} MB, best of ${ROUNDS} per document`);
  console.log('');
  console.log('converter                      success          median ms/doc   MB/s   docs/s');
  const row = (name: string, xs: (number | undefined)[]): void => {
    const good = ok(xs);
    const sum = good.reduce((s, x) => s + x, 0);
    console.log(
      `${name.padEnd(30)} ${`${good.length}/${docs.length} (${pct(good.length)})`.padEnd(16)} ${median(good).toFixed(2).padStart(13)} ${mbps(xs).padStart(6)} ${(good.length / (sum / 1000)).toFixed(0).padStart(8)}`,
    );
  };
  row('chartkeeper parseCcda', ours);
  if (typeof medplum === 'function') row('@medplum/ccda', theirs);
  else console.log(medplum);
  if (typeof blueButton === 'function') row('@amida-tech/blue-button parse', amida);
  else console.log(blueButton);

  if (typeof medplum === 'function') {
    const both = docs.map((_, i) => i).filter((i) => ours[i] !== undefined && theirs[i] !== undefined);
    const ourMedian = median(both.map((i) => ours[i] as number));
    const theirMedian = median(both.map((i) => theirs[i] as number));
    const perDocRatio = median(both.map((i) => (theirs[i] as number) / (ours[i] as number)));
    console.log('');
    console.log(
      `on the ${both.length} documents both convert: chartkeeper median ${ourMedian.toFixed(2)} ms, @medplum/ccda median ${theirMedian.toFixed(2)} ms`,
    );
    console.log(
      `  ratio of medians ${(theirMedian / ourMedian).toFixed(2)}x; median of per-document ratios ${perDocRatio.toFixed(2)}x (target >= 2x)`,
    );
  }
  if (typeof blueButton === 'function') {
    const both = docs.map((_, i) => i).filter((i) => ours[i] !== undefined && amida[i] !== undefined);
    const ratio = median(both.map((i) => (amida[i] as number) / (ours[i] as number)));
    console.log(`on the ${both.length} documents blue-button parses: median per-document ratio ${ratio.toFixed(2)}x`);
  }
  const top = (m: Map<string, number>): string =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, v]) => `${v}x "${k}"`)
      .join('; ');
  console.log('');
  if (ourErrors.size) console.log(`chartkeeper failures: ${top(ourErrors)}`);
  if (medplumErrors.size) console.log(`@medplum/ccda failures: ${top(medplumErrors)}`);
  if (amidaErrors.size) console.log(`blue-button failures: ${top(amidaErrors)}`);
  if (process.env.BENCH_SKIP_POSTGRES !== '1') {
    console.log('');
    await importCorpusIntoPostgres(docs);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
