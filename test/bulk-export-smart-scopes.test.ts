/**
 * Issue 21 with issue 20's SMART v2 query scopes: a backend service whose token reads Observations through
 * `system/Observation.rs?category=...|laboratory` exports exactly what its searches see (system, Patient and Group
 * exports, with `_since` too), an unfiltered scope of the type exports every Observation of the organisation, and the
 * files of an export made with wider access are not served to a token holding only the filtered scope. A Subscription
 * keeps its writer's scopes as an export does (test/subscription-smart-scopes.test.ts): a token that reads its type
 * only through a query scope may subscribe; one that does not read it at all is refused.
 */
import type { Group, Resource } from '@medplum/fhirtypes';
import { bulkExportJob } from '../src/jobs/bulk-export-job';
import { DEMO_PASSWORD } from '../fixtures/demo-family';
import { type BackendClient, registerBackendClient } from './support/backend-client';
import { type SmartTestApp, startSmartTestApp } from './support/smart-test-app';
import { appJobDeps } from './support/app-job-deps';

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const LAB_SCOPE = `system/Observation.rs?category=${CATEGORY}|laboratory`;

describe('Bulk Data $export with SMART query scopes', () => {
  let app: SmartTestApp;
  let client: BackendClient;
  let groupId: string;
  let adaId: string;

  beforeAll(async () => {
    app = await startSmartTestApp();
    const maya = await app.login('maya.chen@example.com', DEMO_PASSWORD);
    const organizationId = (await app.read('Organization?name=Westside', maya.access_token)).body.entry[0].resource.id as string;
    const ada = await app.login('ada.park@example.com', DEMO_PASSWORD);
    adaId = ada.account.patientId as string;
    client = await registerBackendClient(app, organizationId, 'Lab Export');
    const group: Group = { resourceType: 'Group', type: 'person', actual: true, member: [{ entity: { reference: `Patient/${adaId}` } }] };
    groupId = (await app.system.create<Group>(group)).resource.id as string;
  }, 120_000);
  afterAll(() => app?.close());

  /** A backend token with these scopes (client_credentials, private_key_jwt). */
  const backendToken = (scope: string) => client.token(scope);

  async function searchIds(path: string, token: string): Promise<string[]> {
    const res = await app.read(path, token);
    expect(res.status).toBe(200);
    expect(res.body.link?.find((l: any) => l.relation === 'next')).toBeUndefined();
    return (res.body.entry ?? []).map((e: any) => e.resource.id as string).sort();
  }

  /** Kicks an export off and answers its status URL. */
  async function kickOff(path: string, token: string): Promise<string> {
    const res = await fetch(`${app.fhir}/${path}`, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+json', Prefer: 'respond-async' },
    });
    expect(res.status).toBe(202);
    return res.headers.get('content-location') as string;
  }

  async function runExports(): Promise<void> {
    await bulkExportJob(appJobDeps(app, { exportFileTtlSeconds: 3600 }), { sliceMs: 600_000 });
  }

  /** The manifest's status and, per file type, the ids read back from its ndjson (with `token`). */
  async function readExport(statusUrl: string, token: string): Promise<Map<string, string[]>> {
    const status = await fetch(statusUrl, { headers: { Authorization: `Bearer ${token}` } });
    expect(status.status).toBe(200);
    const manifest = (await status.json()) as { output: { type: string; url: string }[] };
    const byType = new Map<string, string[]>();
    for (const file of manifest.output) {
      const res = await fetch(file.url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+ndjson' } });
      expect(res.status).toBe(200);
      const lines = (await res.text()).split('\n').filter(Boolean);
      byType.set(file.type, lines.map((line) => (JSON.parse(line) as Resource).id as string).sort());
    }
    return byType;
  }

  async function exportOf(path: string, token: string): Promise<Map<string, string[]>> {
    const statusUrl = await kickOff(path, token);
    await runExports();
    return readExport(statusUrl, token);
  }

  it('a filtered scope exports only the Observations its searches see; an unfiltered one exports them all', async () => {
    const lab = await backendToken(LAB_SCOPE);
    const all = await backendToken('system/Observation.rs');
    const labIds = await searchIds('Observation?_count=1000', lab);
    const allIds = await searchIds('Observation?_count=1000', all);
    expect(labIds.length).toBeGreaterThan(0);
    expect(allIds.length).toBeGreaterThan(labIds.length);
    expect(allIds).toEqual(expect.arrayContaining(labIds));

    expect((await exportOf('$export', lab)).get('Observation')).toEqual(labIds);
    expect((await exportOf('$export?_type=Observation&_since=2000-01-01T00:00:00Z', lab)).get('Observation')).toEqual(labIds);
    expect((await exportOf('Patient/$export?_type=Observation', lab)).get('Observation')).toEqual(labIds);
    expect((await exportOf('$export?_type=Observation', all)).get('Observation')).toEqual(allIds);
    // The filtered scope with an unfiltered one of the same type: the filter is lifted, as for a search.
    const both = await backendToken(`${LAB_SCOPE} system/Observation.rs`);
    expect(await searchIds('Observation?_count=1000', both)).toEqual(allIds);
    expect((await exportOf('$export?_type=Observation', both)).get('Observation')).toEqual(allIds);
  }, 180_000);

  it("a Group export applies the filter within the Group's patients", async () => {
    const lab = await backendToken(`${LAB_SCOPE} system/Group.rs`);
    const adaLabs = await searchIds(`Observation?patient=${adaId}&_count=1000`, lab);
    const adaAll = await searchIds(`Observation?patient=${adaId}&_count=1000`, await backendToken('system/Observation.rs'));
    expect(adaLabs.length).toBeGreaterThan(0);
    expect(adaAll.length).toBeGreaterThan(adaLabs.length);
    expect((await exportOf(`Group/${groupId}/$export?_type=Observation`, lab)).get('Observation')).toEqual(adaLabs);
  }, 180_000);

  it('the files of an export made without the filter are not served to a token holding only the filtered scope', async () => {
    const all = await backendToken('system/Observation.rs');
    const lab = await backendToken(LAB_SCOPE);
    const statusUrl = await kickOff('$export?_type=Observation', all);
    await runExports();
    const manifest = (await (await fetch(statusUrl, { headers: { Authorization: `Bearer ${all}` } })).json()) as {
      output: { url: string }[];
    };
    expect(manifest.output.length).toBe(1);
    expect((await fetch(statusUrl, { headers: { Authorization: `Bearer ${lab}` } })).status).toBe(404);
    expect((await fetch(manifest.output[0].url, { headers: { Authorization: `Bearer ${lab}` } })).status).toBe(404);
    // A filtered export's files are served to the same filter, and to a wider one of the same client.
    const labStatus = await kickOff('$export?_type=Observation', lab);
    await runExports();
    const labIds = await searchIds('Observation?_count=1000', lab);
    expect((await readExport(labStatus, lab)).get('Observation')).toEqual(labIds);
    expect((await readExport(labStatus, all)).get('Observation')).toEqual(labIds);
  }, 180_000);

  it('a Subscription to a type the token does not read is refused; one read through a query scope is taken', async () => {
    const subscribe = async (token: string) => {
      const res = await fetch(`${app.fhir}/Subscription`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'Subscription',
          status: 'requested',
          reason: 'lab results',
          criteria: 'Observation?status=final',
          channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/hook', payload: 'application/fhir+json' },
        }),
      });
      const body = (await res.json()) as any;
      return [res.status, res.status === 201 ? body.resourceType : body.issue?.[0]?.details?.text];
    };
    expect(await subscribe(await backendToken(`system/Subscription.cruds ${LAB_SCOPE}`))).toEqual([201, 'Subscription']);
    expect(await subscribe(await backendToken('system/Subscription.cruds system/Patient.rs'))).toEqual([
      403,
      'Your access does not read Observation across your organisation; you cannot subscribe to it',
    ]);
    expect(await subscribe(await backendToken('system/Subscription.cruds system/Observation.rs'))).toEqual([201, 'Subscription']);
    expect(await subscribe(await backendToken(`system/Subscription.cruds ${LAB_SCOPE} system/Observation.rs`))).toEqual([
      201,
      'Subscription',
    ]);
  }, 120_000);
});
