import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { startTestApp, TestApp } from './support/test-app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ config: { maxJsonBytes: 64 * 1024 } });
});
afterAll(() => app.close());

const ada: Patient = { resourceType: 'Patient', name: [{ family: 'Park', given: ['Ada'] }], birthDate: '1984-03-02', gender: 'female' };

async function outcome(res: Response): Promise<OperationOutcome> {
  expect(res.headers.get('content-type')).toContain('application/fhir+json');
  return (await res.json()) as OperationOutcome;
}

test('metadata needs no token; everything else does', async () => {
  const meta = await app.request('/fhir/metadata', { token: null });
  expect(meta.status).toBe(200);
  const capability = (await meta.json()) as any;
  expect(capability.resourceType).toBe('CapabilityStatement');
  const patient = capability.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
  expect(patient.searchParam.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['name', 'birthdate', 'identifier']));
  expect(patient.operation.map((o: { name: string }) => o.name)).toContain('everything');

  const denied = await app.request('/fhir/Patient', { token: null });
  expect(denied.status).toBe(401);
  expect((await outcome(denied)).issue[0].code).toBe('login');
  expect((await app.request('/fhir/Patient', { token: 'not-a-jwt' })).status).toBe(401);
});

test('create, read, conditional create, update with If-Match, history, delete', async () => {
  const created = await app.request('/fhir/Patient', {
    method: 'POST',
    json: { ...ada, identifier: [{ system: 'urn:mrn', value: 'A1' }] },
  });
  expect(created.status).toBe(201);
  const body = (await created.json()) as Patient;
  expect(created.headers.get('location')).toBe(`${app.fhir}/Patient/${body.id}/_history/1`);
  expect(created.headers.get('etag')).toBe('W/"1"');

  const read = await app.request(`/fhir/Patient/${body.id}`);
  expect(read.status).toBe(200);
  expect(read.headers.get('last-modified')).toBe(new Date(body.meta!.lastUpdated!).toUTCString());
  expect(await read.json()).toEqual(body);

  const again = await app.request('/fhir/Patient', { method: 'POST', headers: { 'If-None-Exist': 'identifier=urn:mrn|A1' }, json: ada });
  expect(again.status).toBe(200);
  expect(((await again.json()) as Patient).id).toBe(body.id);

  const update = (ifMatch: string) =>
    app.request(`/fhir/Patient/${body.id}`, { method: 'PUT', headers: { 'If-Match': ifMatch }, json: { ...body, gender: 'other' } });
  const [first, second] = await Promise.all([update('W/"1"'), update('W/"1"')]);
  expect([first.status, second.status].sort()).toEqual([200, 412]);

  const history = (await (await app.request(`/fhir/Patient/${body.id}/_history`)).json()) as Bundle;
  expect(history.entry?.map((e) => e.response?.etag)).toEqual(['W/"2"', 'W/"1"']);
  expect((await app.request(`/fhir/Patient/${body.id}/_history/1`)).status).toBe(200);

  expect((await app.request(`/fhir/Patient/${body.id}`, { method: 'DELETE' })).status).toBe(204);
  expect((await app.request(`/fhir/Patient/${body.id}`)).status).toBe(410);
  expect((await app.request('/fhir/Patient/does-not-exist')).status).toBe(404);
});

test('bad input gets a clear OperationOutcome and writes nothing', async () => {
  const before = await countPatients();
  const malformed = await app.request('/fhir/Patient', { method: 'POST', json: '{"resourceType": "Patient",' });
  expect(malformed.status).toBe(400);
  expect((await outcome(malformed)).issue[0].details?.text).toMatch(/not valid JSON/);

  const wrongType = await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Observation' } });
  expect(wrongType.status).toBe(400);

  const unknownType = await app.request('/fhir/Spaceship', { method: 'POST', json: { resourceType: 'Spaceship' } });
  expect(unknownType.status).toBe(400);

  const invalid = await app.request('/fhir/Patient', {
    method: 'POST',
    json: { resourceType: 'Patient', birthDate: '1984-13-45', active: 'yes' },
  });
  expect(invalid.status).toBe(400);
  const issues = (await outcome(invalid)).issue;
  expect(issues.map((i) => i.expression?.[0])).toEqual(expect.arrayContaining(['Patient.birthDate', 'Patient.active']));

  const big = await app.request('/fhir/Patient', {
    method: 'POST',
    json: { ...ada, text: { status: 'generated', div: 'x'.repeat(70 * 1024) } },
  });
  expect(big.status).toBe(413);

  // A body that is not FHIR JSON is 415; an empty one says what is missing.
  const xmlBody = await app.request('/fhir/Patient', {
    method: 'POST',
    body: '<Patient/>',
    headers: { 'Content-Type': 'application/xml' },
  });
  expect(xmlBody.status).toBe(415);
  expect((await outcome(xmlBody)).issue[0].details?.text).toBe(
    'The body must be FHIR JSON (Content-Type: application/fhir+json), not application/xml',
  );
  const empty = await app.request('/fhir/Patient', { method: 'POST', json: {} });
  expect([empty.status, (await outcome(empty)).issue[0].details?.text]).toEqual([
    400,
    'The body holds no resource: a FHIR resource names its resourceType',
  ]);
  // Interactions not offered are 405, saying what to do instead.
  const created = (await (await app.request('/fhir/Patient', { method: 'POST', json: ada })).json()) as Patient;
  for (const [method, path] of [
    ['PATCH', `/fhir/Patient/${created.id}`],
    ['PUT', '/fhir/Patient?name=Park'],
    ['DELETE', '/fhir/Patient?name=Park'],
  ]) {
    const res = await app.request(path, { method, json: method === 'DELETE' ? undefined : ada });
    expect([method, res.status]).toEqual([method, 405]);
    expect((await outcome(res)).issue[0].details?.text).toMatch(/not supported/);
  }
  // Resources come as FHIR JSON only: asking for XML is 406 (operations and Binary choose their own formats).
  for (const [path, headers] of [
    [`/fhir/Patient/${created.id}?_format=xml`, {}],
    [`/fhir/Patient?_format=application/fhir%2Bxml`, {}],
    [`/fhir/Patient/${created.id}`, { Accept: 'application/fhir+xml' }],
    ['/fhir/metadata', { Accept: 'application/xml' }],
  ] as [string, Record<string, string>][]) {
    const res = await app.request(path, { headers });
    expect([path, res.status]).toEqual([path, 406]);
    expect((await outcome(res)).issue[0].details?.text).toMatch(/is not offered: resources are served as FHIR JSON/);
  }
  for (const [path, headers] of [
    [`/fhir/Patient/${created.id}?_format=json`, {}],
    [`/fhir/Patient/${created.id}?_format=application/fhir%2Bjson`, {}],
    [`/fhir/Patient/${created.id}`, { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }],
    [`/fhir/Patient/${created.id}`, { Accept: 'application/fhir+json; fhirVersion=4.0' }],
  ] as [string, Record<string, string>][]) {
    expect([path, (await app.request(path, { headers })).status]).toEqual([path, 200]);
  }
  // Prefer: return=minimal answers a write with its headers only; return=OperationOutcome says what was done.
  const minimal = await app.request('/fhir/Patient', { method: 'POST', json: ada, headers: { Prefer: 'return=minimal' } });
  expect([minimal.status, await minimal.text(), minimal.headers.get('etag')]).toEqual([201, '', 'W/"1"']);
  expect(minimal.headers.get('location')).toMatch(/\/fhir\/Patient\/[^/]+\/_history\/1$/);
  const said = await app.request(`/fhir/Patient/${created.id}`, {
    method: 'PUT',
    json: { ...created, gender: 'other' },
    headers: { Prefer: 'return=OperationOutcome' },
  });
  expect([said.status, said.headers.get('etag'), (await outcome(said)).issue[0]]).toEqual([
    200,
    'W/"2"',
    { severity: 'information', code: 'informational', details: { text: `Updated: Patient/${created.id}, version 2` } },
  ]);
  const whole = await app.request(`/fhir/Patient/${created.id}`, {
    method: 'PUT',
    json: { ...created, gender: 'male' },
    headers: { Prefer: 'return=representation' },
  });
  expect(((await whole.json()) as Patient).gender).toBe('male');
  await app.request(new URL(minimal.headers.get('location')!).pathname.replace(/\/_history\/1$/, ''), { method: 'DELETE' });
  await app.request(`/fhir/Patient/${created.id}`, { method: 'DELETE' });

  expect((await app.request('/fhir/Patient?shoe-size=9')).status).toBe(400);
  expect((await app.request('/fhir/Patient?birthdate=1984-02-30')).status).toBe(400);
  // A write's dates must be days the calendar has: the format alone lets February 30th through.
  const feb30 = await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', birthDate: '1984-02-30' } });
  expect([feb30.status, (await outcome(feb30)).issue.map((i) => [i.expression?.[0], i.details?.text])]).toEqual([
    400,
    [['Patient.birthDate', 'Invalid date: 1984-02-30 is not a day of the calendar']],
  ]);
  const notLeap = await app.request('/fhir/Observation', {
    method: 'POST',
    json: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: '2023-02-29T10:00:00Z' },
  });
  expect([notLeap.status, (await outcome(notLeap)).issue[0].details?.text]).toEqual([
    400,
    'Invalid dateTime: 2023-02-29 is not a day of the calendar',
  ]);
  const leap = await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', birthDate: '2024-02-29' } });
  expect(leap.status).toBe(201);
  await app.request(`/fhir/Patient/${((await leap.json()) as Patient).id}`, { method: 'DELETE' });

  const transaction: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:1', resource: ada, request: { method: 'POST', url: 'Patient' } },
      { resource: { resourceType: 'Patient', birthDate: 'yesterday' }, request: { method: 'POST', url: 'Patient' } },
    ],
  };
  const tx = await app.request('/fhir', { method: 'POST', json: transaction });
  expect(tx.status).toBe(400);
  expect((await outcome(tx)).issue[0].expression?.[0]).toBe('Bundle.entry[1].resource.Patient.birthDate');
  expect(await countPatients()).toBe(before);
});

test('JSON nested too deeply, a NUL character and composite search parameters get a 400 OperationOutcome, not a 500', async () => {
  const before = await countPatients();
  // 30,000 levels (under this app's 64 kB body limit) overflow the validator's recursive walks if they get there.
  const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
  const tooDeep = { severity: 'error', code: 'structure', details: { text: 'The JSON is nested too deeply (more than 100 levels)' } };
  const bodies: [string, string][] = [
    ['/fhir/Patient', `{"resourceType":"Patient","extension":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`],
    ['/fhir/Communication', `{"resourceType":"Communication","status":"completed","payload":${deep(30_000)}}`],
    [
      '/fhir',
      `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","extension":${deep(30_000)}}}]}`,
    ],
    ['/fhir/Patient', deep(30_000)],
  ];
  for (const [path, json] of bodies) {
    const res = await app.request(path, { method: 'POST', json });
    expect([path, res.status, (await outcome(res)).issue]).toEqual([path, 400, [tooDeep]]);
  }

  const nul = await app.request('/fhir/Patient', { method: 'POST', json: { ...ada, name: [{ family: 'Pa\u0000rk' }] } });
  expect([nul.status, (await outcome(nul)).issue]).toEqual([
    400,
    [
      {
        severity: 'error',
        code: 'invalid',
        details: { text: 'Text may not contain a NUL character (\\u0000)' },
        expression: ['Patient.name[0].family'],
      },
    ],
  ]);
  expect(await countPatients()).toBe(before);
  for (const [query, code] of [
    ['/fhir/Patient?name=%00', 'name'],
    ['/fhir/Observation?code=%00', 'code'],
    ['/fhir/Observation?code=a,%00', 'code'],
  ]) {
    const res = await app.request(query);
    const { details, expression } = (await outcome(res)).issue[0];
    expect([query, res.status, details?.text, expression]).toEqual([query, 400, 'Text may not contain a NUL character (\\u0000)', [code]]);
  }
  const searchForm = await app.request('/fhir/Patient/_search', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'family=%00',
  });
  expect(searchForm.status).toBe(400);

  for (const code of ['code-value-quantity', 'component-code-value-quantity']) {
    const res = await app.request(`/fhir/Observation?${code}=8867-4$gt60`);
    expect([res.status, (await outcome(res)).issue]).toEqual([
      400,
      [
        {
          severity: 'error',
          code: 'not-supported',
          details: { text: `Search parameter "${code}" (composite) is not supported` },
          expression: [code],
        },
      ],
    ]);
  }
  const capability = (await (await app.request('/fhir/metadata', { token: null })).json()) as any;
  const kinds = new Set(
    capability.rest[0].resource.flatMap((r: { searchParam?: { type: string }[] }) => (r.searchParam ?? []).map((p) => p.type)),
  );
  expect([...kinds].sort()).toEqual(['date', 'number', 'quantity', 'reference', 'string', 'token', 'uri']);
});

test('transaction rewrites urn:uuid references; search pages with next links and includes', async () => {
  const entries = [
    {
      fullUrl: 'urn:uuid:ben',
      resource: { resourceType: 'Patient', name: [{ family: 'Park', given: ['Ben'] }], birthDate: '2017-04-01' },
      request: { method: 'POST', url: 'Patient' },
    },
    ...[1, 2, 3, 4, 5].map((n) => ({
      resource: {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8302-2', display: 'Body height' }] },
        subject: { reference: 'urn:uuid:ben' },
        effectiveDateTime: `2024-0${n}-01`,
        valueQuantity: { value: 100 + n, unit: 'cm', system: 'http://unitsofmeasure.org', code: 'cm' },
      },
      request: { method: 'POST', url: 'Observation' },
    })),
  ];
  const tx = await app.request('/fhir', { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: entries } });
  expect(tx.status).toBe(200);
  const result = (await tx.json()) as Bundle;
  const benId = result.entry![0].resource!.id;
  expect(result.entry![1].resource).toMatchObject({ subject: { reference: `Patient/${benId}` } });

  const page1 = (await (
    await app.request(`/fhir/Observation?patient=${benId}&_count=2&_sort=date&_include=Observation:patient&_total=accurate`)
  ).json()) as Bundle;
  expect(page1.total).toBe(5);
  expect(
    page1.entry?.filter((e) => e.search?.mode === 'match').map((e) => (e.resource as { effectiveDateTime: string }).effectiveDateTime),
  ).toEqual(['2024-01-01', '2024-02-01']);
  expect(page1.entry?.filter((e) => e.search?.mode === 'include').map((e) => e.resource?.id)).toEqual([benId]);
  const next = page1.link?.find((l) => l.relation === 'next')?.url;
  expect(next).toContain('_offset=2');
  const page2 = (await (await app.request(next!)).json()) as Bundle;
  expect(page2.entry?.filter((e) => e.search?.mode === 'match')).toHaveLength(2);

  const count = (await (await app.request(`/fhir/Observation?patient=${benId}&_summary=count`)).json()) as Bundle;
  expect(count).toMatchObject({ total: 5 });
  expect(count.entry).toBeUndefined();

  const everything = (await (await app.request(`/fhir/Patient/${benId}/$everything?start=2024-02-01&end=2024-03-31`)).json()) as Bundle;
  expect(everything.entry?.map((e) => e.resource?.resourceType).sort()).toEqual(['Observation', 'Observation', 'Patient']);
  // _type keeps only the record's resources of those types (the patient always comes first).
  const typed = (await (await app.request(`/fhir/Patient/${benId}/$everything?_type=Condition,Immunization`)).json()) as Bundle;
  expect(typed.entry?.[0].resource?.resourceType).toBe('Patient');
  expect(typed.entry?.slice(1).every((e) => ['Condition', 'Immunization'].includes(e.resource!.resourceType))).toBe(true);
  const observationsOnly = (await (await app.request(`/fhir/Patient/${benId}/$everything?_type=Observation`)).json()) as Bundle;
  expect(observationsOnly.entry?.map((e) => e.resource?.resourceType).sort()).toEqual([
    'Observation',
    'Observation',
    'Observation',
    'Observation',
    'Observation',
    'Patient',
  ]);
  const unknownType = await app.request(`/fhir/Patient/${benId}/$everything?_type=Observation,Nonsense`);
  expect(unknownType.status).toBe(400);
  expect(JSON.stringify(await unknownType.json())).toContain('Nonsense');

  const elements = (await (await app.request(`/fhir/Patient?_id=${benId}&_elements=birthDate`)).json()) as Bundle;
  expect(elements.entry?.[0].resource).toMatchObject({ birthDate: '2017-04-01' });
  expect((elements.entry?.[0].resource as Patient).name).toBeUndefined();
});

test('Binary upload and download keep the raw content and its type', async () => {
  const pdf = Buffer.from('%PDF-1.4 test document');
  const up = await app.request('/fhir/Binary', { method: 'POST', headers: { 'Content-Type': 'application/pdf' }, body: pdf });
  expect(up.status).toBe(201);
  const binary = (await up.json()) as { id: string };
  const down = await app.request(`/fhir/Binary/${binary.id}`, { headers: { Accept: 'application/pdf' } });
  expect(down.headers.get('content-type')).toBe('application/pdf');
  expect(Buffer.from(await down.arrayBuffer())).toEqual(pdf);
  const asJson = await app.request(`/fhir/Binary/${binary.id}`, { headers: { Accept: 'application/fhir+json' } });
  expect(((await asJson.json()) as { contentType: string }).contentType).toBe('application/pdf');
});

async function countPatients(): Promise<number> {
  const res = await app.request('/fhir/Patient?_summary=count');
  return ((await res.json()) as Bundle).total!;
}

test('conditional update in a transaction updates the one match or creates; restating changes nothing', async () => {
  const entry = (value: number) => ({
    fullUrl: 'urn:uuid:weight',
    resource: {
      resourceType: 'Observation',
      status: 'final',
      identifier: [{ system: 'urn:test:ids', value: 'weight-1' }],
      code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }] },
      valueQuantity: { value, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
    },
    request: { method: 'PUT', url: 'Observation?identifier=urn:test:ids|weight-1' },
  });
  const send = async (value: number) =>
    (await (
      await app.request('/fhir', { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: [entry(value)] } })
    ).json()) as Bundle;
  const first = await send(70);
  expect(first.entry![0].response?.status).toBe('201 Created');
  const again = await send(70);
  expect(again.entry![0].response).toMatchObject({
    status: '200 OK',
    etag: 'W/"1"',
    outcome: { issue: [{ details: { text: 'unchanged' } }] },
  });
  const newer = await send(71);
  expect(newer.entry![0].response).toMatchObject({ status: '200 OK', etag: 'W/"2"' });
  expect(newer.entry![0].resource?.id).toBe(first.entry![0].resource?.id);
});
