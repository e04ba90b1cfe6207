/**
 * Issue 24 item 7: a lone UTF-16 surrogate (`\ud800`) is refused on every way in (a portal caller's Binary and
 * message, an update, a transaction, a C-CDA import's character reference), 400 naming where it is, nothing stored;
 * and what was stored before (written straight to the tables here) no longer breaks the record's reads and exports:
 * the queries read it through chartkeeper_jsonb, and migration 0012 replaces it by U+FFFD.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Binary, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { type Kysely, sql } from 'kysely';
import { up as repairWellFormedContent } from '../src/db/migrations/0012-well-formed-content';
import { LONE_SURROGATE } from '../src/fhir/input-limits';
import { insertNew, prepareWrite } from '../src/fhir/resource-writer';
import { type AccessFamily, startAccessFamily } from './support/access-family';
import { recordState } from './support/record-state';

let f: AccessFamily;
beforeAll(async () => {
  f = await startAccessFamily('westmed');
});
afterAll(() => f?.close());

async function answer(res: Response): Promise<[number, string | undefined, string[] | undefined]> {
  const body = (await res.json()) as OperationOutcome;
  return [res.status, body.issue?.[0]?.details?.text, body.issue?.[0]?.expression];
}

/** JSON text with a lone surrogate escaped in it (JSON.stringify would write the same escape). */
const LONE = '\\ud800';

describe('issue 24 item 7: strings that are not valid Unicode', () => {
  it('refuses a lone surrogate on every write path, 400 naming the location, storing nothing', async () => {
    const ada = await f.token('ada');
    const adaRef = `Patient/${f.patientIds.ada}`;
    const before = await recordState(f.app.database);
    const post = (p: string, body: string, token: string | undefined = ada, method = 'POST') =>
      f.app.request(p, { method, token, body, headers: { 'Content-Type': 'application/fhir+json' } });

    expect(
      await answer(
        await post(
          '/fhir/Binary',
          `{"resourceType":"Binary","contentType":"text/plain${LONE}","data":"aGk=","securityContext":{"reference":"${adaRef}"}}`,
        ),
      ),
    ).toEqual([400, LONE_SURROGATE, ['Binary.contentType']]);
    expect(
      await answer(
        await post(
          '/fhir/Communication',
          `{"resourceType":"Communication","status":"preparation","subject":{"reference":"${adaRef}"},"payload":[{"contentString":"Hello ${LONE}"}]}`,
        ),
      ),
    ).toEqual([400, LONE_SURROGATE, ['Communication.payload[0].contentString']]);
    // A key, a low surrogate alone, a high surrogate at the very end: all refused.
    expect(await answer(await post('/fhir/Patient', `{"resourceType":"Patient","name":[{"family":"X"}],"x${LONE}":1}`, undefined))).toEqual(
      [400, LONE_SURROGATE, [`Patient.x\ud800`]],
    );
    expect(await answer(await post('/fhir/Patient', `{"resourceType":"Patient","name":[{"family":"\\udc00"}]}`, undefined))).toEqual([
      400,
      LONE_SURROGATE,
      ['Patient.name[0].family'],
    ]);
    const patient = await f.system.read<Resource>('Patient', f.patientIds.ada);
    const update = JSON.stringify({ ...patient, name: [{ family: 'Park', given: ['Ada'] }] }).replace('"Ada"', `"Ada${LONE}"`);
    expect(await answer(await post(`/fhir/Patient/${f.patientIds.ada}`, update, undefined, 'PUT'))).toEqual([
      400,
      LONE_SURROGATE,
      ['Patient.name[0].given[0]'],
    ]);
    const transaction = `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation","status":"final","code":{"text":"${LONE}"},"subject":{"reference":"${adaRef}"}}}]}`;
    expect(await answer(await post('/fhir', transaction, undefined))).toEqual([
      400,
      LONE_SURROGATE,
      ['Bundle.entry[0].resource.code.text'],
    ]);
    // A C-CDA's character reference to a surrogate decodes to one: refused by the validation every import meets.
    const ccda = fs
      .readFileSync(path.join(__dirname, '../fixtures/ccda-golden/unstructured.xml'), 'utf8')
      .replace('<given>Katherine</given>', '<given>Kath&#xD800;erine</given>');
    const imported = await f.app.request('/fhir/$import-ccda', {
      method: 'POST',
      body: ccda,
      headers: { 'Content-Type': 'application/xml' },
    });
    const [status, text] = await answer(imported);
    expect([status, text]).toEqual([400, LONE_SURROGATE]);
    expect(await recordState(f.app.database)).toEqual(before);
  });

  it('reads and exports a record holding a lone surrogate stored before, and migration 0012 repairs it', async () => {
    const adaRef = `Patient/${f.patientIds.ada}`;
    // As the issue found it: a Binary of Ada's, its metadata holding a lone surrogate, written before the check.
    const stored = prepareWrite(
      {
        resourceType: 'Binary',
        id: 'lone-surrogate-binary',
        contentType: 'text/plain\ud800',
        data: 'aGk=',
        securityContext: { reference: adaRef },
      },
      1,
      new Date(),
      { compartments: [f.patientIds.ada], owners: [f.patientIds.ada] }, // as write-placement puts a Binary in Ada's record
    );
    expect(stored.content).toContain('"text/plain\\ud800"');
    await insertNew(f.app.database.db, [stored]);
    const everyRead = async () => {
      const out: Record<string, number> = {};
      for (const caller of ['ada', 'dan'] as const) {
        const token = await f.token(caller);
        for (const p of [
          `Patient/${f.patientIds.ada}/$everything`,
          `Patient/${f.patientIds.ada}/$ccda`,
          `DocumentReference/$docref?patient=${f.patientIds.ada}`,
          'Binary',
          'DocumentReference',
        ]) {
          out[`${caller} ${p}`] = (await f.app.request(`/fhir/${p}`, { token })).status;
        }
      }
      out['staff Binary/lone-surrogate-binary'] = (
        await f.app.request('/fhir/Binary/lone-surrogate-binary', { headers: { Accept: 'application/fhir+json' } })
      ).status;
      return out;
    };
    const allOk = (statuses: Record<string, number>) => Object.fromEntries(Object.keys(statuses).map((k) => [k, 200]));
    const unrepaired = await everyRead();
    expect(unrepaired).toEqual(allOk(unrepaired));

    await repairWellFormedContent(f.app.database.db as Kysely<any>);
    const { rows } = await sql<{
      content: string;
    }>`select content from resource where resource_type = 'Binary' and id = 'lone-surrogate-binary'`.execute(f.app.database.db);
    expect(JSON.parse(rows[0].content).contentType).toBe('text/plain\ufffd');
    const repaired = await everyRead();
    expect(repaired).toEqual(allOk(repaired));
    const read = await f.app.request('/fhir/Binary/lone-surrogate-binary', { headers: { Accept: 'application/fhir+json' } });
    expect(((await read.json()) as Binary).contentType).toBe('text/plain\ufffd');
  });
});
