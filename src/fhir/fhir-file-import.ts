import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import { BundleOptions, processBundle } from './bundle-processor';
import { claimImport, findImports, findOtherContentNamed, ImportRecord, noteImported, sha256Of, WHOLE_FILE } from './imported-file-ledger';
import { checkJsonInput } from './input-limits';
import { defaultPreparationWorkers, WritePreparationPool } from './write-preparation-pool';
import { badRequest } from './outcomes';
import type { Repository } from './repository';

/** What importing one file did. */
export interface FileImportResult {
  readonly file: string;
  readonly created: Record<string, number>;
  readonly error?: string;
  /** Why nothing was done: the ledger holds this content already (see imported-file-ledger.ts). */
  readonly skipped?: string;
}

/** Lists the .json files named (folders are walked, sorted, so imports are repeatable). */
export function listJsonFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const stat = fs.statSync(p);
    if (stat.isDirectory()) {
      out.push(
        ...listJsonFiles(
          fs
            .readdirSync(p)
            .sort()
            .map((f) => path.join(p, f)),
        ).filter((f) => f.endsWith('.json')),
      );
    } else {
      out.push(p);
    }
  }
  return out;
}

/** How one file is imported. */
export interface FileImportOptions extends BundleOptions {
  /**
   * Import a file even though a file of the same name was imported before with other content. Off by default:
   * a changed export of the same patients would add a second copy of everything both versions hold.
   */
  readonly reimportChanged?: boolean;
}

/**
 * Imports one FHIR JSON file: a resource, or a transaction, batch or collection Bundle. A collection is stored as
 * one transaction, so a file lands whole or not at all, together with its row in the ledger of imported files; a
 * file whose content the ledger holds is skipped, so running an import again (after a crash, or by mistake)
 * creates nothing twice. A batch Bundle's entries are each their own transaction, and each is recorded alone.
 */
export async function importFhirFile(repo: Repository, file: string, options: FileImportOptions = {}): Promise<FileImportResult> {
  try {
    const bytes = await fs.promises.readFile(file);
    const sha256 = sha256Of(bytes);
    const earlier = await findImports(repo.db, sha256);
    const whole = earlier.find((record) => record.entry === WHOLE_FILE);
    if (whole) return { file, created: {}, skipped: importedBefore(file, whole) };
    if (!earlier.length && !options.reimportChanged) {
      const [changed] = await findOtherContentNamed(repo.db, file, sha256);
      if (changed) return { file, created: {}, error: changedSince(changed) };
    }
    const json = JSON.parse(bytes.toString('utf8')) as Resource;
    checkJsonInput(json);
    const bundle = asTransaction(json);
    if (bundle.type === 'batch') return await importBatch(repo, file, sha256, bundle, earlier, options);
    const created = await repo.transaction(async (trx) => {
      if (!(await claimImport(trx.db, sha256, WHOLE_FILE, file, repo.context.clock.now()))) return undefined;
      const counts = createdByType(await processBundle(trx, bundle, options));
      await noteImported(trx.db, sha256, WHOLE_FILE, sum(counts));
      return counts;
    });
    if (created) return { file, created };
    // Another transaction imported the same content meanwhile (the same bytes under two names in one run).
    const [record] = await findImports(repo.db, sha256);
    return { file, created: {}, skipped: importedBefore(file, record) };
  } catch (err) {
    return { file, created: {}, error: errorText(err) };
  }
}

/**
 * A batch file: each entry in a transaction of its own with its own ledger row, as a batch's entries stand alone
 * (one failing does not undo the others), so a run cut short in the middle of a batch resumes after what committed.
 */
async function importBatch(
  repo: Repository,
  file: string,
  sha256: string,
  bundle: Bundle,
  earlier: ImportRecord[],
  options: BundleOptions,
): Promise<FileImportResult> {
  const done = new Set(earlier.map((record) => record.entry));
  const entries = bundle.entry ?? [];
  if (earlier.length && entries.every((_, i) => done.has(i))) return { file, created: {}, skipped: importedBefore(file, earlier[0]) };
  const created: Record<string, number> = {};
  const failures: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    if (done.has(i)) continue;
    const single: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [entries[i]] };
    try {
      const counts = await repo.transaction(async (trx) => {
        if (!(await claimImport(trx.db, sha256, i, file, repo.context.clock.now()))) return {};
        const counted = createdByType(await processBundle(trx, single, options));
        await noteImported(trx.db, sha256, i, sum(counted));
        return counted;
      });
      for (const [type, n] of Object.entries(counts)) created[type] = (created[type] ?? 0) + n;
    } catch (err) {
      // As in a batch posted to /fhir, an entry's bad input fails that entry; anything else fails the file.
      if (!(err instanceof OperationOutcomeError)) throw err;
      failures.push(`entry[${i}]: ${errorText(err)}`);
    }
  }
  const error = failures.length ? `${failures.length} batch entries failed (${failures.join('; ')})` : undefined;
  return { file, created, error };
}

function createdByType(response: Bundle): Record<string, number> {
  const created: Record<string, number> = {};
  for (const entry of response.entry ?? []) {
    const type = entry.resource?.resourceType ?? entry.response?.location?.split('/')[0];
    if (type && entry.response?.status?.startsWith('201')) created[type] = (created[type] ?? 0) + 1;
  }
  return created;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function importedBefore(file: string, record: ImportRecord): string {
  const as = path.resolve(file) === record.path ? '' : ` as ${record.path}`;
  return `imported before${as} on ${record.importedAt.toISOString()} (same SHA-256)`;
}

function changedSince(record: ImportRecord): string {
  const resources = record.entry === WHOLE_FILE ? `, ${record.resources} resources` : '';
  return (
    `a file of this name was imported before with other content (${record.path}, ${record.importedAt.toISOString()}${resources}); ` +
    'importing this one too would add a second copy of whatever both hold. Pass --reimport-changed to import it anyway'
  );
}

function errorText(err: unknown): string {
  const outcome = (err as { outcome?: { issue?: { details?: { text?: string }; expression?: string[] }[] } }).outcome;
  const message = outcome?.issue?.map((i) => `${i.details?.text}${i.expression ? ` at ${i.expression.join(', ')}` : ''}`).join('; ');
  return message ?? (err as Error).message;
}

/** Totals of importing many files. */
export interface ImportSummary {
  readonly files: number;
  readonly resources: number;
  readonly created: Record<string, number>;
  readonly failures: { file: string; error: string }[];
  /** Files the ledger holds already (imported by an earlier run), left as they are. */
  readonly skipped: { file: string; reason: string }[];
  readonly seconds: number;
}

/** Below this much JSON, worker threads cost more to start than they save. */
const POOL_MIN_BYTES = 4 * 1024 * 1024;

function totalBytes(files: string[]): number {
  return files.reduce((sum, file) => sum + fs.statSync(file).size, 0);
}

/**
 * Files in flight at once: while one is being validated on a worker, others are read and parsed or written, so the
 * workers, the main thread and PostgreSQL all have work. Measured on 2 CPUs with 1 worker (bench/fhir.ts import, 4
 * alternating runs each): 3 files at once imported 3,169-3,366 resources/s, 2 files 2,809-3,197.
 */
export const DEFAULT_IMPORT_CONCURRENCY = 3;

/** How importFhirFiles runs. */
export interface ImportOptions {
  /** Files imported at once, each in its own transaction (default DEFAULT_IMPORT_CONCURRENCY). */
  readonly concurrency?: number;
  /** Worker threads that validate and index (0 = on the main thread); default: see startPreparationFor. */
  readonly workers?: number;
  /** A pool the caller started (and closes); `workers` is then ignored. */
  readonly preparation?: WritePreparationPool;
  /** Called as each file finishes, in completion order. */
  readonly onFile?: (result: FileImportResult) => void;
  /** See FileImportOptions.reimportChanged. */
  readonly reimportChanged?: boolean;
}

/**
 * Starts the worker threads for importing these files: `workers` of them, by default defaultPreparationWorkers()
 * when the files hold at least 4 MB, else none (undefined), as starting a worker costs about a second of CPU.
 * The caller closes the pool. Started early, the workers load their definitions while the caller sets up.
 */
export function startPreparationFor(files: string[], workers?: number): WritePreparationPool | undefined {
  const size = workers ?? (totalBytes(files) >= POOL_MIN_BYTES ? defaultPreparationWorkers() : 0);
  return size > 0 ? WritePreparationPool.start(size) : undefined;
}

/**
 * Imports many files, each whole or not at all (one transaction per file), skipping those imported before (the
 * ledger, imported-file-ledger.ts). The CPU-heavy validation
 * and indexing run on a pool of worker threads while the main thread writes, and a few files are in
 * flight at once so the database and the workers are both kept busy.
 */
export async function importFhirFiles(repo: Repository, files: string[], options: ImportOptions = {}): Promise<ImportSummary> {
  const started = performance.now();
  const ownPool = options.preparation ? undefined : startPreparationFor(files, options.workers);
  const preparation = options.preparation ?? ownPool;
  const created: Record<string, number> = {};
  const failures: { file: string; error: string }[] = [];
  const skipped: { file: string; reason: string }[] = [];
  let resources = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++];
      const result = await importFhirFile(repo, file, { preparation, reimportChanged: options.reimportChanged });
      for (const [type, n] of Object.entries(result.created)) {
        created[type] = (created[type] ?? 0) + n;
        resources += n;
      }
      if (result.error) failures.push({ file, error: result.error });
      if (result.skipped) skipped.push({ file, reason: result.skipped });
      options.onFile?.(result);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_IMPORT_CONCURRENCY) }, worker));
  } finally {
    await ownPool?.close();
  }
  const inListOrder = (a: { file: string }, b: { file: string }) => files.indexOf(a.file) - files.indexOf(b.file);
  failures.sort(inListOrder);
  skipped.sort(inListOrder);
  return { files: files.length, resources, created, failures, skipped, seconds: (performance.now() - started) / 1000 };
}

function asTransaction(resource: Resource): Bundle {
  if (resource.resourceType !== 'Bundle') {
    const request = resource.id
      ? { method: 'PUT' as const, url: `${resource.resourceType}/${resource.id}` }
      : { method: 'POST' as const, url: resource.resourceType };
    return { resourceType: 'Bundle', type: 'transaction', entry: [{ resource, request }] };
  }
  if (resource.type === 'transaction' || resource.type === 'batch') return resource;
  if (resource.type === 'collection' || resource.type === 'searchset') {
    const entry: BundleEntry[] = (resource.entry ?? [])
      .filter((e) => e.resource)
      .map((e) => ({
        fullUrl: e.fullUrl,
        resource: e.resource,
        request: e.resource!.id
          ? { method: 'PUT', url: `${e.resource!.resourceType}/${e.resource!.id}` }
          : { method: 'POST', url: e.resource!.resourceType },
      }));
    return { resourceType: 'Bundle', type: 'transaction', entry };
  }
  throw badRequest(`Bundle.type ${resource.type} cannot be imported; use transaction, batch or collection`);
}
