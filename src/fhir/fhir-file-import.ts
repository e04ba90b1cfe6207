import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { processBundle } from './bundle-processor';
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
export async function importFhirFile(repo: Repository, file: string): Promise<FileImportResult> {
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Resource;
    const bundle = asTransaction(json);
    const result = await processBundle(repo, bundle);
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

/** Imports files one after another (each whole or not at all), reporting each as it finishes. */
export async function importFhirFiles(repo: Repository, files: string[], options: { onFile?: (result: FileImportResult) => void } = {}): Promise<ImportSummary> {
  const started = performance.now();
  const created: Record<string, number> = {};
  const failures: { file: string; error: string }[] = [];
  let resources = 0;
  for (const file of files) {
    const result = await importFhirFile(repo, file);
    for (const [type, n] of Object.entries(result.created)) {
      created[type] = (created[type] ?? 0) + n;
      resources += n;
    }
    if (result.error) failures.push({ file, error: result.error });
    options.onFile?.(result);
  }
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
