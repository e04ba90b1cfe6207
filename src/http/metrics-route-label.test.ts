import { loadFhirDefinitions } from '../fhir/definitions';
import { routeLabel } from './metrics-route-label';

beforeAll(() => loadFhirDefinitions());

test.each([
  ['/fhir/Patient/123', 200, '/fhir/Patient/:id'],
  ['/fhir/Patient', 200, '/fhir/Patient'],
  ['/fhir/Patient/_search', 200, '/fhir/Patient/_search'],
  ['/fhir/Observation/abc/_history', 200, '/fhir/Observation/:id/_history'],
  ['/fhir/Observation/abc/_history/2', 200, '/fhir/Observation/:id/_history/:version'],
  ['/fhir/Patient/p1/$ccda', 200, '/fhir/Patient/:id/$ccda'],
  ['/fhir/Patient/p1/$made-up', 404, '/fhir/Patient/:id/:operation'],
  ['/fhir/DocumentReference/$docref', 200, '/fhir/DocumentReference/$docref'],
  ['/fhir/metadata', 200, '/fhir/metadata'],
  ['/fhir/$export', 202, '/fhir/$export'],
  ['/fhir/bulk-export/4f0c', 202, '/fhir/bulk-export/:id'],
  ['/fhir/bulk-export/4f0c/Observation.ndjson', 200, '/fhir/bulk-export/:id/:file'],
  ['/fhir', 200, '/fhir'],
  ['/fhir/NotAType/1', 404, '/fhir/:type/:id'],
  ['/fhir/Patient/1/2/3/4', 404, '/fhir/Patient/:unknown'],
  ['/auth/login', 200, '/auth/login'],
  ['/auth/password/reset', 400, '/auth/password/reset'],
  ['/auth/nothing-here', 404, '/auth/:unknown'],
  ['/readyz', 200, '/readyz'],
  ['/metrics', 200, '/metrics'],
  ['/wp-admin/setup.php', 404, ':unmatched'],
  ['/', 404, '/'],
])('%s answered %i is counted as %s', (path, status, label) => {
  expect(routeLabel(path, status)).toBe(label);
});
