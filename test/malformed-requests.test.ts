/**
 * Issue 24 item 8: requests malformed in their numbers, their URL or their body's encoding are the client's 400 (or
 * 413 when too large), never a 500: paging numbers past what the database holds, version ids past what a version
 * is, `Content-Encoding` that does not match the bytes, a path that is not percent-encoded UTF-8, integers past
 * FHIR's 32 bits, and shapes the validator did not expect. Nothing is stored.
 */
import { gzipSync } from 'node:zlib';
import type { OperationOutcome, Patient } from '@medplum/fhirtypes';
import { MAX_SEARCH_OFFSET } from '../src/fhir/search/parse-search';
import { recordState } from './support/record-state';
import { startTestApp, type TestApp } from './support/test-app';

let app: TestApp;
let patient: Patient;
beforeAll(async () => {
  app = await startTestApp();
  const res = await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Numbers' }] } });
  patient = (await res.json()) as Patient;
});
afterAll(() => app?.close());

async function answer(res: Response): Promise<[number, string | undefined]> {
  const body = (await res.json()) as OperationOutcome;
  return [res.status, body.issue?.[0]?.details?.text];
}

describe('issue 24 item 8: bad numbers, URLs and encodings are 400, not 500', () => {
  it('refuses _offset and _count that are not whole numbers or too deep, in search and history', async () => {
    const before = await recordState(app.database);
    const huge = '99999999999999999999';
    expect(await answer(await app.request(`/fhir/Patient?_offset=${huge}`))).toEqual([
      400,
      `_offset may be at most ${MAX_SEARCH_OFFSET}; narrow the search (by _lastUpdated or _id, say) to reach further`,
    ]);
    expect(await answer(await app.request(`/fhir/Patient?_offset=${'9'.repeat(40)}`))).toEqual([
      400,
      `_offset must be a whole number of at least 0, got "${'9'.repeat(40)}"`,
    ]);
    for (const bad of ['1.5', '1e30', '-1', '0x10', 'abc', '']) {
      expect(await answer(await app.request(`/fhir/Patient?_offset=${encodeURIComponent(bad)}`))).toEqual([
        400,
        `_offset must be a whole number of at least 0, got "${bad}"`,
      ]);
      expect(await answer(await app.request(`/fhir/Patient?_count=${encodeURIComponent(bad)}`))).toEqual([
        400,
        `_count must be a whole number of at least 0, got "${bad}"`,
      ]);
      expect(await answer(await app.request(`/fhir/Patient/_history?_count=${encodeURIComponent(bad)}`))).toEqual([
        400,
        '_count must be a positive integer',
      ]);
    }
    expect(await answer(await app.request('/fhir/Patient?_offset=1&_offset=2'))).toEqual([400, '_offset may be given once']);
    // A huge _count is the largest page, as FHIR lets a server answer.
    const big = await app.request(`/fhir/Patient?_count=${huge}`);
    expect(big.status).toBe(200);
    expect((await app.request(`/fhir/Patient/_history?_count=${huge}`)).status).toBe(200);
    expect((await app.request(`/fhir/Patient?_offset=${MAX_SEARCH_OFFSET}`)).status).toBe(200);
    expect(await recordState(app.database)).toEqual(before);
  });

  it('refuses a version id that is not a version number (400), and a well-formed one that does not exist is 404', async () => {
    const before = await recordState(app.database);
    for (const bad of ['99999999999999999999', '2147483648', '1000000000', '-1', '1.0', 'abc', '01', '0']) {
      expect(await answer(await app.request(`/fhir/Patient/${patient.id}/_history/${bad}`))).toEqual([
        400,
        `A version id is a whole number from 1 to 999999999, got "${bad}"`,
      ]);
    }
    expect((await app.request(`/fhir/Patient/${patient.id}/_history/999999999`)).status).toBe(404);
    expect((await app.request(`/fhir/Patient/${patient.id}/_history/1`)).status).toBe(200);
    expect(await recordState(app.database)).toEqual(before);
  });

  it('refuses a body whose bytes are not what its Content-Encoding says (JSON, Binary, form, XML), and takes real gzip', async () => {
    const before = await recordState(app.database);
    const bodies: [string, string][] = [
      ['/fhir/Patient', 'application/fhir+json'],
      ['/fhir/Binary', 'text/plain'],
      ['/fhir/Patient/_search', 'application/x-www-form-urlencoded'],
      ['/fhir/$import-ccda', 'application/xml'],
      ['/fhir', 'application/fhir+json'],
    ];
    for (const [path, type] of bodies) {
      for (const encoding of ['gzip', 'deflate']) {
        const res = await app.request(path, {
          method: 'POST',
          body: '{"resourceType":"Patient"}',
          headers: { 'Content-Type': type, 'Content-Encoding': encoding },
        });
        const [status, text] = await answer(res);
        expect([path, encoding, status, text?.startsWith('The body could not be decoded as its Content-Encoding says')]).toEqual([
          path,
          encoding,
          400,
          true,
        ]);
      }
    }
    expect(
      await answer(
        await app.request('/fhir/Patient', {
          method: 'POST',
          body: '{}',
          headers: { 'Content-Type': 'application/fhir+json', 'Content-Encoding': 'br' },
        }),
      ),
    ).toEqual([415, 'unsupported content encoding "br"']);
    // A gzip that inflates past the body limit is 413 (the limit applies to what it inflates to).
    const bomb = gzipSync(Buffer.alloc(app.config.maxJsonBytes + 1, 32));
    expect(
      (
        await app.request('/fhir/Patient', {
          method: 'POST',
          body: bomb,
          headers: { 'Content-Type': 'application/fhir+json', 'Content-Encoding': 'gzip' },
        })
      ).status,
    ).toBe(413);
    expect(await recordState(app.database)).toEqual(before);
    const real = await app.request('/fhir/Patient', {
      method: 'POST',
      body: gzipSync('{"resourceType":"Patient","name":[{"family":"Zipped"}]}'),
      headers: { 'Content-Type': 'application/fhir+json', 'Content-Encoding': 'gzip' },
    });
    expect(real.status).toBe(201);
    expect(((await real.json()) as Patient).name?.[0].family).toBe('Zipped');
  });

  it('refuses a URL that is not percent-encoded UTF-8, integers past 32 bits and shapes the validator did not expect', async () => {
    const before = await recordState(app.database);
    expect(await answer(await app.request('/fhir/Patient/%E0%A4%A'))).toEqual([400, 'The URL is not valid percent-encoded UTF-8']);
    expect(await answer(await app.request('/fhir/Patient/%E0%A4%A/_history'))).toEqual([400, 'The URL is not valid percent-encoded UTF-8']);
    const post = (json: unknown) => app.request('/fhir/Patient', { method: 'POST', json });
    // The literal only needs to be far beyond 32 bits; that it rounds as a double does not matter.
    // eslint-disable-next-line no-loss-of-precision
    expect(await answer(await post({ resourceType: 'Patient', multipleBirthInteger: 99999999999999999999 }))).toEqual([
      400,
      'Expected number to be a 32-bit integer (-2147483648 to 2147483647)',
    ]);
    expect(await answer(await post({ resourceType: 'Patient', multipleBirthInteger: -2147483649 }))).toEqual([
      400,
      'Expected number to be a 32-bit integer (-2147483648 to 2147483647)',
    ]);
    const [status, text] = await answer(
      await post({ resourceType: 'Patient', address: [{ postalCode: '98101', _postalCode: [{ id: 'e1' }] }] }),
    );
    expect([status, text?.startsWith('The resource is malformed: ')]).toEqual([400, true]);
    expect(await recordState(app.database)).toEqual(before);
    expect((await post({ resourceType: 'Patient', multipleBirthInteger: 2147483647 })).status).toBe(201);
  });
});
