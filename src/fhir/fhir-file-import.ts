import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { BundleOptions, processBundle } from './bundle-processor';
import { checkJsonInput } from './input-limits';
import { defaultPreparationWorkers, WritePreparationPool } from './write-preparation-pool';
import { badRequest } from './outcomes';
import type { Repository } from './repository';

/** What importing one file did. */
export interface FileImportResult {
  readonly file: string;
  readonly created: Record<string, number>;
  readonly error?: string;
}

/** Lists the .json files named (folders are walked, sorted, so imports are repeatable). */
export function listJsonFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const stat = fs.statSync(p);
    if (stat.isDirectory()) {
      out.push(...listJsonFiles(fs.readdirSync(p).sort().map((f) => path.join(p, f))).filter((f) => f.endsWith('.json')));
    } else {
      out.push(p);
    }
  }
  return out;
}

/**
 * Imports one FHIR JSON file: a resource, or a transaction, batch or collection Bundle. A
 * collection is stored as one transaction, so a file lands whole or not at all.
 */
export async function importFhirFile(repo: Repository, file: string, options: BundleOptions = {}): Promise<FileImportResult> {
  try {
    const json = JSON.parse(await fs.promises.readFile(file, 'utf8')) as Resource;
    checkJsonInput(json);
    const bundle = asTransaction(json);
    const result = await processBundle(repo, bundle, options);
    const created: Record<string, number> = {};
    for (const entry of result.entry ?? []) {
      const type = entry.resource?.resourceType ?? entry.response?.location?.split('/')[0];
      if (type && entry.response?.status?.startsWith('201')) created[type] = (created[type] ?? 0) + 1;
    }
    const failed = (result.entry ?? []).filter((e) => e.response?.outcome);
    const error = failed.length ? `${failed.length} batch entries failed` : undefined;
    return { file, created, error };
  } catch (err) {
    const outcome = (err as { outcome?: { issue?: { details?: { text?: string }; expression?: string[] }[] } }).outcome;
    const message = outcome?.issue?.map((i) => `${i.details?.text}${i.expression ? ` at ${i.expression.join(', ')}` : ''}`).join('; ');
    return { file, created: {}, error: message ?? (err as Error).message };
  }
}

/** Totals of importing many files. */
export interface ImportSummary {
  readonly files: number;
  readonly resources: number;
  readonly created: Record<string, number>;
  readonly failures: { file: string; error: string }[];
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
 * Imports many files, each whole or not at all (one transaction per file). The CPU-heavy validation
 * and indexing run on a pool of worker threads while the main thread writes, and a few files are in
 * flight at once so the database and the workers are both kept busy.
 */
export async function importFhirFiles(repo: Repository, files: string[], options: ImportOptions = {}): Promise<ImportSummary> {
  const started = performance.now();
  const ownPool = options.preparation ? undefined : startPreparationFor(files, options.workers);
  const preparation = options.preparation ?? ownPool;
  const created: Record<string, number> = {};
  const failures: { file: string; error: string }[] = [];
  let resources = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++];
      const result = await importFhirFile(repo, file, { preparation });
      for (const [type, n] of Object.entries(result.created)) {
        created[type] = (created[type] ?? 0) + n;
        resources += n;
      }
      if (result.error) failures.push({ file, error: result.error });
      options.onFile?.(result);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_IMPORT_CONCURRENCY) }, worker));
  } finally {
    await ownPool?.close();
  }
  failures.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file));
  return { files: files.length, resources, created, failures, seconds: (performance.now() - started) / 1000 };
}

function asTransaction(resource: Resource): Bundle {
  if (resource.resourceType !== 'Bundle') {
    const request = resource.id ? { method: 'PUT' as const, url: `${resource.resourceType}/${resource.id}` } : { method: 'POST' as const, url: resource.resourceType };
    return { resourceType: 'Bundle', type: 'transaction', entry: [{ resource, request }] };
  }
  if (resource.type === 'transaction' || resource.type === 'batch') return resource;
  if (resource.type === 'collection' || resource.type === 'searchset') {
    const entry: BundleEntry[] = (resource.entry ?? [])
      .filter((e) => e.resource)
      .map((e) => ({
        fullUrl: e.fullUrl,
        resource: e.resource,
        request: e.resource!.id ? { method: 'PUT', url: `${e.resource!.resourceType}/${e.resource!.id}` } : { method: 'POST', url: e.resource!.resourceType },
      }));
    return { resourceType: 'Bundle', type: 'transaction', entry };
  }
  throw badRequest(`Bundle.type ${resource.type} cannot be imported; use transaction, batch or collection`);
}
