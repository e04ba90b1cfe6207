import type { AuditEvent, Observation, Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { openTestDatabase, TestDatabase } from '../../../test/support/test-database';
import { FixedClock } from '../clock';
import { Repository } from '../repository';
import { unrestrictedScope } from '../../access/access-scope';
import { type AuditEntry, appendAudit, settleAuditLog, takeMerged } from './audit-log';
import { AuditTrail } from './audit-trail';
import { parseSearch } from '../search/parse-search';
import { StatementScope, withStatementScope } from '../../db/statement-scope';

let database: TestDatabase;
let system: Repository;
const clock = new FixedClock(new Date('2026-03-01T12:00:00Z'));
const chen = { who: { reference: 'Practitioner/chen' }, name: 'Dr. Maya Chen', requestor: true };
const haddad = { who: { reference: 'Practitioner/haddad' }, name: 'Dr. Omar Haddad', requestor: true };

beforeAll(async () => {
  database = await openTestDatabase();
  system = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: 'http://test/fhir' });
});
afterAll(() => database.close());

/** Dr. Chen's repository for one request: everything she reads is audited. */
function chensRequest(): Repository {
  return new Repository(database.db, {
    scope: unrestrictedScope('staff chen'),
    clock,
    fhirBase: 'http://test/fhir',
    audit: new AuditTrail(() => chen, clock),
  });
}

async function pendingRows(): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_log`.execute(database.db);
  return rows[0].n;
}

async function eventsFor(patientId: string): Promise<AuditEvent[]> {
  return system.searchResources<AuditEvent>('AuditEvent', { patient: `Patient/${patientId}`, _sort: 'date' });
}

const entry = (overrides: Partial<AuditEntry>): AuditEntry => ({
  patientId: 'ada',
  agent: chen,
  interaction: 'read',
  resources: ['Observation/1'],
  recorded: new Date('2026-03-01T12:00:00.100Z'),
  ...overrides,
});

/** What takeMerged makes of these entries, alone in the log (rolled back afterwards, so nothing is left). */
async function merged(entries: AuditEntry[]): Promise<AuditEntry[]> {
  let out: AuditEntry[] = [];
  await database.db
    .transaction()
    .execute(async (trx) => {
      await sql`delete from audit_log`.execute(trx);
      await appendAudit(trx, entries);
      const { taken, entries: result } = await takeMerged(trx, 100);
      expect(taken).toBe(entries.length);
      out = result;
      throw new Error('roll back');
    })
    .catch((err: Error) => {
      if (err.message !== 'roll back') throw err;
    });
  return out;
}

describe('takeMerged', () => {
  test('one agent’s reads of one record within a second become one entry naming every resource, with their period', async () => {
    const result = await merged([
      entry({ resources: ['Observation/1'], recorded: new Date('2026-03-01T12:00:00.100Z') }),
      entry({ resources: ['Observation/2', 'Observation/1'], recorded: new Date('2026-03-01T12:00:00.900Z') }),
      entry({ resources: ['Observation/3'], recorded: new Date('2026-03-01T12:00:00.400Z') }),
    ]);
    expect(result).toEqual([
      entry({
        resources: ['Observation/1', 'Observation/2', 'Observation/3'],
        recorded: new Date('2026-03-01T12:00:00.900Z'),
        since: new Date('2026-03-01T12:00:00.100Z'),
      }),
    ]);
  });

  test('another second, patient, agent, interaction or operation stays apart', async () => {
    const base = entry({});
    const others = [
      entry({ recorded: new Date('2026-03-01T12:00:01.000Z') }),
      entry({ patientId: 'ben' }),
      entry({ agent: haddad }),
      entry({ interaction: 'search-type' }),
      entry({ interaction: 'operation', operation: '$everything' }),
      entry({ interaction: 'operation', operation: '$ccda' }),
    ];
    const result = await merged([base, ...others]);
    expect(result).toHaveLength(7);
    expect(result.find((e) => e.operation === '$ccda')).toMatchObject({
      interaction: 'operation',
      patientId: 'ada',
      resources: ['Observation/1'],
    });
    expect(result.filter((e) => e.operation === undefined)).toHaveLength(5);
  });

  test('the same agent written with its keys in another order is the same agent', async () => {
    const reordered = { requestor: true, name: chen.name, who: { reference: 'Practitioner/chen' } };
    expect(await merged([entry({}), entry({ agent: reordered, resources: ['Observation/2'] })])).toHaveLength(1);
  });

  test('takes at most the limit, oldest first, and leaves the rest', async () => {
    await database.db
      .transaction()
      .execute(async (trx) => {
        await sql`delete from audit_log`.execute(trx);
        await appendAudit(
          trx,
          [1, 2, 3].map((n) => entry({ resources: [`Observation/${n}`], recorded: new Date(`2026-03-01T12:00:0${n}.000Z`) })),
        );
        const { taken, entries } = await takeMerged(trx, 2);
        expect(taken).toBe(2);
        expect(entries.map((e) => e.resources)).toEqual([['Observation/1'], ['Observation/2']]);
        expect((await sql<{ n: number }>`select count(*)::int as n from audit_log`.execute(trx)).rows[0].n).toBe(1);
        throw new Error('roll back');
      })
      .catch((err: Error) => {
        if (err.message !== 'roll back') throw err;
      });
  });
});

describe('the audit log', () => {
  let ada: Patient;
  let observations: Observation[];

  beforeAll(async () => {
    ({ resource: ada } = await system.create<Patient>({
      resourceType: 'Patient',
      name: [{ family: 'Park', given: ['Ada'] }],
      birthDate: '1984-05-02',
    }));
    observations = [];
    for (let i = 0; i < 20; i++) {
      const { resource } = await system.create<Observation>({
        resourceType: 'Observation',
        status: 'final',
        code: { text: `Reading ${i}` },
        subject: { reference: `Patient/${ada.id}` },
        valueQuantity: { value: i },
      });
      observations.push(resource);
    }
  });

  /** Dr. Haddad's read of one of Ada's Observations, on record in the log as a request would leave it. */
  const recordHaddadsRead = (at: string, observation: Observation): Promise<void> =>
    appendAudit(database.db, [
      entry({ patientId: ada.id!, agent: haddad, recorded: new Date(at), resources: [`Observation/${observation.id}`] }),
    ]);

  test('twenty parallel reads are each committed to the log before they return, then become one AuditEvent', async () => {
    clock.set('2026-03-01T13:00:00Z');
    await Promise.all(observations.map((o) => chensRequest().read('Observation', o.id!)));
    // Every read is on record, durably, once it has returned: nothing is left in memory.
    expect(await pendingRows()).toBe(20);

    const events = await eventsFor(ada.id!);
    expect(await pendingRows()).toBe(0);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'R', recorded: '2026-03-01T13:00:00.000Z', agent: [chen], subtype: [{ code: 'read' }] });
    expect(events[0].entity!.map((e) => e.what?.reference).sort()).toEqual(
      [`Patient/${ada.id}`, ...observations.map((o) => `Observation/${o.id}`)].sort(),
    );
    // Who read this Observation? Each resource touched is an entity of its own, found by reference.
    const byEntity = await system.searchResources<AuditEvent>('AuditEvent', { entity: `Observation/${observations[7].id}` });
    expect(byEntity.map((e) => e.id)).toEqual([events[0].id]);
  });

  test('reads a second apart become separate events; a search of AuditEvents always sees the reads answered before it', async () => {
    clock.set('2026-03-01T14:00:00Z');
    await chensRequest().read('Observation', observations[0].id!);
    clock.set('2026-03-01T14:00:01Z');
    await chensRequest().read('Observation', observations[1].id!);
    const events = (await eventsFor(ada.id!)).filter((e) => e.recorded >= '2026-03-01T14');
    expect(events.map((e) => [e.recorded, e.entity!.map((x) => x.what?.reference)])).toEqual([
      ['2026-03-01T14:00:00.000Z', [`Patient/${ada.id}`, `Observation/${observations[0].id}`]],
      ['2026-03-01T14:00:01.000Z', [`Patient/${ada.id}`, `Observation/${observations[1].id}`]],
    ]);
  });

  test('what is in the table is all there is: records left by a process that stopped become events later', async () => {
    await recordHaddadsRead('2026-03-01T15:00:00Z', observations[2]);
    expect(await pendingRows()).toBe(1);
    await settleAuditLog(database.db);
    const [event] = (await eventsFor(ada.id!)).filter((e) => e.agent?.[0]?.name === 'Dr. Omar Haddad');
    expect(event).toMatchObject({
      recorded: '2026-03-01T15:00:00.000Z',
      entity: [{ what: { reference: `Patient/${ada.id}` } }, { what: { reference: `Observation/${observations[2].id}` } }],
    });
  });

  test('a pass started by a request whose client leaves still settles the log for every caller sharing it', async () => {
    await recordHaddadsRead('2026-03-01T15:30:00Z', observations[3]);
    // The request that starts the pass is gone before the pass runs a statement; another caller and the job share it.
    const leaving = new StatementScope();
    const started = withStatementScope(leaving, () => settleAuditLog(database.db));
    const shared = settleAuditLog(database.db);
    expect(shared).toBe(started);
    leaving.abort();
    await expect(Promise.all([started, shared])).resolves.toBeDefined();
    expect(await pendingRows()).toBe(0);
    const events = (await eventsFor(ada.id!)).filter((e) => e.recorded === '2026-03-01T15:30:00.000Z');
    expect(events.map((e) => e.entity!.map((x) => x.what?.reference))).toEqual([
      [`Patient/${ada.id}`, `Observation/${observations[3].id}`],
    ]);
  });

  test('inside a transaction the records commit or roll back with it', async () => {
    await database.db
      .transaction()
      .execute(async (trx) => {
        await appendAudit(trx, [entry({ patientId: ada.id! })]);
        expect((await sql<{ n: number }>`select count(*)::int as n from audit_log`.execute(trx)).rows[0].n).toBe(1);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await pendingRows()).toBe(0);
  });
});

describe('a search that records what it serves in its own statement (staff, operators)', () => {
  let ada: Patient;
  let ben: Patient;

  beforeAll(async () => {
    ({ resource: ada } = await system.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Quill', given: ['Ada'] }] }));
    ({ resource: ben } = await system.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Quill', given: ['Ben'] }] }));
    for (const [patient, n] of [
      [ada, 8],
      [ben, 2],
    ] as const) {
      for (let i = 0; i < n; i++) {
        await system.create<Observation>({
          resourceType: 'Observation',
          status: 'final',
          code: { text: `Quill reading ${i}` },
          subject: { reference: `Patient/${patient.id}` },
          valueQuantity: { value: i },
        });
      }
    }
  });

  /** The records a search by Dr. Chen leaves in the log: noted by her trail and inserted after, or by the page's statement. */
  async function recordsOf(inStatement: boolean, type: string, query: Record<string, string>) {
    await settleAuditLog(database.db);
    const repo = new Repository(database.db, {
      scope: unrestrictedScope('staff chen'),
      clock,
      fhirBase: 'http://test/fhir',
      audit: new AuditTrail(() => chen, clock, inStatement ? chen : undefined),
    });
    const bundle = await repo.search(parseSearch(type, query));
    const { rows } = await sql<{ entry: string }>`select entry::text as entry from audit_log order by seq`.execute(database.db);
    const records = rows
      .map(
        (row) => JSON.parse(row.entry) as { patientId: string; resources: string[]; interaction: string; recorded: string; agent: unknown },
      )
      .map((e) => ({ ...e, resources: [...e.resources].sort() }))
      .sort((a, b) => a.patientId.localeCompare(b.patientId));
    return { records, served: (bundle.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`).sort() };
  }

  test.each([
    [
      'a page short of the matches (not the row past it), with an include',
      'Observation',
      { status: 'final', _count: '5', _include: 'Observation:subject' },
    ],
    ['one patient’s record, every match', 'Observation', { subject: 'Patient/ADA', _count: '50' }],
    ['two patients', 'Patient', { family: 'Quill' }],
    ['nothing found', 'Observation', { status: 'cancelled' }],
  ])('%s: the same records as the trail writes', async (_name, type, query: Record<string, string>) => {
    clock.set('2026-03-01T16:00:00Z');
    const resolved = Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v.replace('ADA', ada.id!)]));
    const noted = await recordsOf(false, type, resolved);
    const inStatement = await recordsOf(true, type, resolved);
    expect(inStatement).toEqual(noted);
    // Exactly what was served, and nothing for a search that served nothing.
    expect([...new Set(inStatement.records.flatMap((e) => e.resources))].sort()).toEqual(noted.served);
    expect(inStatement.records.map((e) => [e.interaction, e.recorded, e.agent])).toEqual(
      inStatement.records.map(() => ['search-type', '2026-03-01T16:00:00.000Z', chen]),
    );
    if (query._count === '5') expect(noted.served).toHaveLength(5 + new Set(inStatement.records.map((e) => e.patientId)).size);
    if (query.family) expect(inStatement.records.map((e) => e.patientId)).toEqual([ada.id, ben.id].sort());
  });
});

describe('an AuditEvent search settles the log from its own statement', () => {
  let patient: Patient;
  let reading: Observation;

  beforeAll(async () => {
    ({ resource: patient } = await system.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Gate', given: ['Ida'] }] }));
    ({ resource: reading } = await system.create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Gate reading' },
      subject: { reference: `Patient/${patient.id}` },
    }));
  });

  /** A repository whose every statement is counted in `statements`. */
  function counted(statements: string[], audit?: AuditTrail): Repository {
    const db = database.db.withPlugin({
      transformQuery: (args) => {
        statements.push(args.node.kind);
        return args.node;
      },
      transformResult: (args) => Promise.resolve(args.result),
    });
    return new Repository(db, { scope: unrestrictedScope('staff chen'), clock, fhirBase: 'http://test/fhir', ...(audit ? { audit } : {}) });
  }

  const named = (events: AuditEvent[]): string[][] => events.map((e) => (e.entity ?? []).map((x) => x.what?.reference ?? ''));

  test('a read answered before the search is in it; with nothing waiting the search is one statement', async () => {
    clock.set('2026-03-01T17:00:00Z');
    await settleAuditLog(database.db);
    await chensRequest().read('Observation', reading.id!);
    expect(await pendingRows()).toBe(1);
    const statements: string[] = [];
    const repo = counted(statements);
    const query = { patient: `Patient/${patient.id}`, _sort: '-date' };
    expect(named(await repo.searchResources<AuditEvent>('AuditEvent', query))).toEqual([
      [`Patient/${patient.id}`, `Observation/${reading.id}`],
    ]);
    expect(await pendingRows()).toBe(0);
    statements.length = 0;
    expect(named(await repo.searchResources<AuditEvent>('AuditEvent', query))).toHaveLength(1);
    expect(statements).toHaveLength(1);
  });

  test('a staff search that records itself in its statement settles first, and records the page it serves', async () => {
    clock.set('2026-03-01T17:05:00Z');
    await chensRequest().read('Observation', reading.id!);
    const statements: string[] = [];
    const bundle = await counted(statements, new AuditTrail(() => chen, clock, chen)).search(
      parseSearch('AuditEvent', { patient: `Patient/${patient.id}`, _sort: '-date' }),
    );
    const served = (bundle.entry ?? []).map((e) => e.resource as AuditEvent);
    expect(served.map((e) => e.recorded)).toEqual(['2026-03-01T17:05:00.000Z', '2026-03-01T17:00:00.000Z']);
    // Only the page read after the log was settled is recorded: one record, naming both events.
    const { rows } = await sql<{ entry: { resources: string[]; interaction: string } }>`select entry from audit_log`.execute(database.db);
    expect(rows.map((r) => [r.entry.interaction, [...r.entry.resources].sort()])).toEqual([
      ['search-type', served.map((e) => `AuditEvent/${e.id}`).sort()],
    ]);
  });
});
