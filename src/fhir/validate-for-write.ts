import type { Resource } from '@medplum/fhirtypes';
import { rememberIndex } from './resource-writer';
import { assertValidResource } from './validation';
import { isAtLeast } from './write-budget';
import { preparationError, type WritePreparationPool } from './write-preparation-pool';

/**
 * Resources whose JSON is at least this long are validated (and indexed) on the worker pool: validation costs about
 * 1 µs per element on one thread, so a 16 MB body held every other request for seconds. Below it, the round trip
 * to a worker costs more than the work.
 */
export const OFF_THREAD_BYTES = 256 * 1024;

/** How long validation may run on the event loop before it lets other work in. */
const SLICE_MS = 20;
let sliceStart = performance.now();

/**
 * Validates a resource about to be written (400 with every problem, as assertValidResource): on `pool` when it is
 * large, so the event loop keeps serving other requests meanwhile; in-process when it is small or there is no pool.
 */
export async function validateForWrite(resource: Resource, pool: WritePreparationPool | undefined): Promise<void> {
  if (!pool || !resource || typeof resource !== 'object' || !isAtLeast(resource, OFF_THREAD_BYTES)) {
    // Many small ones in a row (a Bundle, an import) are validated in slices: the event loop gets a turn every
    // SLICE_MS, so other requests are answered between them.
    if (performance.now() - sliceStart > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    return assertValidResource(resource);
  }
  const [prepared] = await pool.prepare([resource]);
  if (prepared.error) throw preparationError(prepared.error);
  rememberIndex(resource, prepared.index!);
}
