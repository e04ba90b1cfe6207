/**
 * Every statement a portal day runs (the soak's requests: portal reads and searches, staff writes, messages with
 * attachments, $ccda, C-CDA documents sent back by an EHR, sign-ins and refreshes, and the background jobs) has a plan that reaches the rows
 * through an index. A statement that can only read the whole of a table that grows with the practice (the resources,
 * their history, the search indexes, the audit log) gets slower every day and takes the CPU the others need. Each
 * statement is explained with sequential scans disabled: the planner then scans only where no index can answer.
 */
import type { Patient, Practitioner } from '@medplum/fhirtypes';
import { CompiledQuery, createQueryId, type KyselyPlugin, type RootOperationNode, sql } from 'kysely';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { MESSAGE_SUBJECT_SYSTEM } from '../src/portal/messaging/message-rules';
import { JOBS } from '../src/jobs/job-scheduler';
import { type AuthTestApp, startAuthTestApp } from './auth-test-app';
import { appJobDeps } from './support/app-job-deps';

/**
 * A sequential scan of any table but these fails the test: the migrations' own, the keys', the registered apps', and
 * two that hold only what is current and are purged as they go (failed sign-ins of the last hour, codes and links
 * not yet used), read whole only by their hourly purge.
 */
const SCANNED = /Seq Scan on (?!(kysely_migration|oauth_key|oauth_client|throttle|one_time_secret)\b)\w+/;

const statements: RootOperationNode[] = [];
const recorder: KyselyPlugin = {
  transformQuery: ({ node }) => {
    statements.push(node);
    return node;
  },
  transformResult: ({ result }) => Promise.resolve(result),
};

let app: AuthTestApp;
beforeAll(async () => {
  app = await startAuthTestApp({ plugin: recorder });
}, 120_000);
afterAll(() => app?.close());

const PDF = Buffer.concat([
  Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n'),
  Buffer.alloc(2000, 0x20),
  Buffer.from('trailer\n<<>>\n%%EOF\n'),
]);

test('no statement of a portal day reads a growing table from end to end', async () => {
  const [ada] = await app.system.searchResources<Patient>('Patient', { name: 'Ada' });
  const [ben] = await app.system.searchResources<Patient>('Patient', { name: 'Ben' });
  const [cara] = await app.system.searchResources<Patient>('Patient', { name: 'Cara' });
  const [chen] = await app.system.searchResources<Practitioner>('Practitioner', { family: 'Chen' });
  const signIn = async (email: string | undefined) =>
    (await app.login(email as string, DEMO_PASSWORD)) as { access_token: string; refresh_token: string };
  const staff = await signIn(DEMO_PEOPLE.mayaChen.email);
  const adaTokens = await signIn(DEMO_PEOPLE.ada.email);
  const dan = await signIn(DEMO_PEOPLE.dan.email);
  const caraTokens = await signIn(DEMO_PEOPLE.cara.email);
  const get = async (token: string, route: string) => {
    const res = await fetch(`${app.url}${route}`, { headers: { Authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    expect([route, res.status]).toEqual([route, 200]);
  };

  statements.length = 0;
  for (const [token, route] of [
    [adaTokens.access_token, `/fhir/Patient/${ada.id}`],
    [adaTokens.access_token, `/fhir/Observation?patient=${ada.id}&_count=20`],
    [adaTokens.access_token, `/fhir/Condition?patient=${ada.id}`],
    [adaTokens.access_token, `/fhir/MedicationRequest?patient=${ada.id}`],
    [adaTokens.access_token, `/fhir/Immunization?patient=${ben.id}`],
    [adaTokens.access_token, `/fhir/DocumentReference?patient=${ada.id}`],
    [adaTokens.access_token, `/fhir/Communication?subject=Patient/${ada.id}&_count=10`],
    [adaTokens.access_token, `/fhir/AuditEvent?patient=${ada.id}&_sort=-date&_count=50`],
    [dan.access_token, `/fhir/Observation?patient=${ada.id}&code=http://loinc.org|8867-4`],
    [dan.access_token, `/fhir/AllergyIntolerance?patient=${ada.id}`],
    [caraTokens.access_token, `/fhir/Patient/${cara.id}`],
    [caraTokens.access_token, `/fhir/Encounter?patient=${cara.id}`],
    [staff.access_token, `/fhir/Patient?name=park&_count=10`],
  ] as const)
    await get(token, route);

  const post = async (token: string, route: string, body: string, contentType: string) => {
    const res = await fetch(`${app.url}${route}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType },
      body,
    });
    const text = await res.text();
    expect([route, res.status]).toEqual([route, expect.any(Number)]);
    expect([route, res.status < 300 ? 'ok' : text]).toEqual([route, 'ok']);
  };
  await post(
    staff.access_token,
    '/fhir/Observation',
    JSON.stringify({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
      subject: { reference: `Patient/${ada.id}` },
      effectiveDateTime: '2026-11-20T10:00:00Z',
      valueQuantity: { value: 64, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    }),
    'application/fhir+json',
  );
  await post(
    adaTokens.access_token,
    '/fhir/Communication',
    JSON.stringify({
      resourceType: 'Communication',
      status: 'completed',
      subject: { reference: `Patient/${ada.id}` },
      sender: { reference: `Patient/${ada.id}` },
      recipient: [{ reference: `Practitioner/${chen.id}` }],
      topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'medical-question' }] },
      payload: [
        { contentString: 'A question about my visit' },
        { contentAttachment: { contentType: 'application/pdf', data: PDF.toString('base64'), title: 'form.pdf' } },
      ],
    }),
    'application/fhir+json',
  );
  await get(adaTokens.access_token, `/fhir/Patient/${ada.id}/$ccda`);
  const rendered = await (
    await fetch(`${app.url}/fhir/Patient/${ben.id}/$ccda`, { headers: { Authorization: `Bearer ${staff.access_token}` } })
  ).text();
  // An EHR sends the document back, twice, changed a little each time: the second finds the first and our own entries.
  await post(staff.access_token, '/fhir/$import-ccda', `${rendered}\n<!-- 1 -->\n`, 'application/xml');
  await post(staff.access_token, '/fhir/$import-ccda', `${rendered}\n<!-- 2 -->\n`, 'application/xml');
  await post(adaTokens.access_token, '/auth/refresh', JSON.stringify({ refresh_token: adaTokens.refresh_token }), 'application/json');
  await signIn(DEMO_PEOPLE.cara.email);
  // And every background job once (the audit pass, the notices, the outboxes' deliveries, the expiries).
  for (const job of JOBS) await job.run(appJobDeps(app));

  const compiled = new Map<string, CompiledQuery>();
  for (const node of statements) {
    const query = app.database.db.getExecutor().compileQuery(node, createQueryId());
    if (/^\s*(\/\*[^*]*\*\/\s*)*(select|with|insert|update|delete)\b/i.test(query.sql) && !compiled.has(query.sql))
      compiled.set(query.sql, query);
  }
  // The run above reaches the reads, searches, writes, renders and imports (a guard against recording nothing).
  expect(compiled.size).toBeGreaterThan(40);

  const scans: string[] = [];
  for (const query of compiled.values()) {
    // The generic plan (the one a statement prepared on a connection settles on), so the values do not matter: a
    // search's compiled shape still has slots where its values go.
    const plan = await app.database.db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      await sql`set local plan_cache_mode = force_generic_plan`.execute(trx);
      await trx.executeQuery(CompiledQuery.raw(`prepare ck_plan_check as ${query.sql}`));
      const nulls = query.parameters.map(() => 'null').join(', ');
      const { rows } = await trx.executeQuery<{ 'QUERY PLAN': string }>(
        CompiledQuery.raw(`explain execute ck_plan_check${nulls ? `(${nulls})` : ''}`),
      );
      await sql`deallocate ck_plan_check`.execute(trx);
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    if (SCANNED.test(plan)) scans.push(`${query.sql.replace(/\s+/g, ' ').slice(0, 400)}\n${plan}`);
  }
  expect(scans).toEqual([]);
}, 240_000);
