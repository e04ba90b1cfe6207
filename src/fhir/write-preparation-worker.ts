/**
 * Worker thread body of the write preparation pool: validates resources and computes their index rows,
 * the CPU-heavy part of a write, so the main thread can keep talking to the database meanwhile.
 */
import { parentPort } from 'node:worker_threads';
import { OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from './definitions';
import { FhirError } from './outcomes';
import { indexValues } from './search/index-values';
import { assertValidResource } from './validation';
import type { PreparationRequest, PreparationResponse, Preparation } from './write-preparation-pool';

loadFhirDefinitions();

function prepareOne(resource: Resource): Preparation {
  try {
    assertValidResource(resource);
    return { index: indexValues(resource) };
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return { error: { status: err instanceof FhirError ? err.status : 400, outcome: err.outcome } };
    }
    return { error: { status: 500, message: err instanceof Error ? err.message : String(err) } };
  }
}

parentPort!.on('message', (request: PreparationRequest) => {
  const resources = JSON.parse(request.json) as Resource[];
  const response: PreparationResponse = { id: request.id, results: resources.map(prepareOne) };
  parentPort!.postMessage(response);
});
parentPort!.postMessage('ready');
