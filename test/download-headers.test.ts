/**
 * Issue 24 item 13: a Binary a browser could run (HTML, SVG, XHTML, XML, JavaScript, or any type not known to be
 * inert) is downloaded as an attachment, never sniffed, in a sandbox with nothing allowed; the $ccda HTML preview
 * carries its policy as a header; and every answer has helmet's security headers.
 */
import type { Binary, Patient } from '@medplum/fhirtypes';
import { recordState } from './support/record-state';
import { startTestApp, type TestApp } from './support/test-app';

let app: TestApp;
let patient: Patient;
beforeAll(async () => {
  app = await startTestApp();
  patient = (await (
    await app.request('/fhir/Patient', {
      method: 'POST',
      json: { resourceType: 'Patient', name: [{ family: 'Headers' }], birthDate: '1980-01-01' },
    })
  ).json()) as Patient;
});
afterAll(() => app?.close());

const SANDBOX = "sandbox; default-src 'none'";

/** An upload's Content-Type as stored: its media type without parameters. */
const stored = (type: string) => type.split(';')[0].trim();

/** Uploads bytes as the staff caller, with this Content-Type; the new Binary's id. */
async function upload(contentType: string, body: string): Promise<string> {
  const res = await app.request('/fhir/Binary', {
    method: 'POST',
    body,
    headers: { 'Content-Type': contentType, 'X-Security-Context': `Patient/${patient.id}` },
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as Binary).id!;
}

async function downloadHeaders(id: string): Promise<Record<string, string | null>> {
  const res = await app.request(`/fhir/Binary/${id}`, { headers: { Accept: '*/*' } });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  const h = res.headers;
  return {
    type: h.get('content-type'),
    disposition: h.get('content-disposition'),
    nosniff: h.get('x-content-type-options'),
    csp: h.get('content-security-policy'),
  };
}

describe('issue 24 item 13: Binary downloads a browser could run, the preview policy, security headers', () => {
  it('serves every runnable or unknown type as a sandboxed, unsniffed attachment, and inert types inline but sandboxed', async () => {
    const script = '<html><body><script>fetch("/fhir/Patient")</script></body></html>';
    const runnable = [
      'text/html',
      'text/html; charset=utf-8',
      'TEXT/HTML',
      'image/svg+xml',
      'application/xhtml+xml',
      'application/xml',
      'text/xml',
      'text/javascript',
      'application/javascript',
      'application/octet-stream',
      'application/x-shockwave-flash',
      'multipart/x-mixed-replace; boundary=x',
      'text/vnd.wap.wml',
      'application/vnd.something+xml',
      'video/mp4',
    ];
    const ids = new Map<string, string>();
    for (const type of runnable) ids.set(type, await upload(type, script));
    const inert = ['application/pdf', 'image/png', 'image/jpeg', 'text/plain; charset=utf-8'];
    for (const type of inert) ids.set(type, await upload(type, 'bytes'));
    const before = await recordState(app.database);

    for (const type of runnable) {
      const id = ids.get(type)!;
      expect([type, await downloadHeaders(id)]).toEqual([
        type,
        { type: stored(type), disposition: `attachment; filename="Binary-${id}"`, nosniff: 'nosniff', csp: SANDBOX },
      ]);
    }
    for (const type of inert) {
      const id = ids.get(type)!;
      expect([type, await downloadHeaders(id)]).toEqual([
        type,
        { type: stored(type), disposition: `inline; filename="Binary-${id}"`, nosniff: 'nosniff', csp: SANDBOX },
      ]);
    }
    // The same file read as FHIR JSON is data, under the service's policy.
    const json = await app.request(`/fhir/Binary/${ids.get('text/html')}`, { headers: { Accept: 'application/fhir+json' } });
    expect([json.status, json.headers.get('content-type'), json.headers.get('content-security-policy')]).toEqual([
      200,
      'application/fhir+json; charset=utf-8',
      "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
    ]);
    expect(await recordState(app.database)).toEqual(before);
  });

  it("gives the $ccda HTML preview its Content-Security-Policy header, and every answer helmet's headers", async () => {
    const before = await recordState(app.database);
    const preview = await app.request(`/fhir/Patient/${patient.id}/$ccda?_format=html`);
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(preview.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    await preview.text();
    for (const path of ['/healthz', '/fhir/metadata', '/fhir/Patient', '/fhir/Nothing']) {
      const res = await app.request(path);
      await res.arrayBuffer();
      const h = res.headers;
      expect([
        path,
        h.get('x-content-type-options'),
        h.get('x-frame-options'),
        h.get('strict-transport-security'),
        h.get('referrer-policy'),
        h.get('content-security-policy'),
        h.get('cache-control'),
      ]).toEqual([
        path,
        'nosniff',
        'SAMEORIGIN',
        'max-age=31536000; includeSubDomains',
        'no-referrer',
        "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
        'no-store',
      ]);
    }
    expect(await recordState(app.database)).toEqual(before);
  });
});
