import type { Resource } from '@medplum/fhirtypes';
import { Migrator, sql } from 'kysely';
import { type Database, openDatabase } from '../database';
import { createScratchDatabase, type ScratchDatabase } from '../../../test/support/scratch-database';
import { loadFhirDefinitions } from '../../fhir/definitions';
import { prepareWrite } from '../../fhir/resource-writer';
import { MIGRATIONS } from '.';

let database: Database;
let scratch: ScratchDatabase | undefined;

beforeAll(async () => {
  loadFhirDefinitions();
  scratch = process.env.DATABASE_URL ? await createScratchDatabase(process.env.DATABASE_URL, 'ck_test') : undefined;
  database = await openDatabase({ databaseUrl: scratch?.url, dataDir: '' }, { inMemory: true });
});
afterAll(async () => {
  await database?.close();
  await scratch?.drop();
});

const migrator = () => new Migrator({ db: database.db, provider: { getMigrations: () => Promise.resolve(MIGRATIONS) } });
const at = new Date('2026-03-01T12:00:00Z');

/** Stores versions as the service stored them before migration 0008: no owners, history without compartments. */
async function storeOld(type: string, id: string, versions: (Record<string, unknown> | 'deleted')[]): Promise<void> {
  let current = { content: '{}', compartments: [] as string[], deleted: false };
  for (const [i, version] of versions.entries()) {
    if (version === 'deleted') current = { ...current, content: '{}', deleted: true };
    else {
      const write = prepareWrite({ ...version, resourceType: type, id } as Resource & { id: string }, i + 1, at);
      current = {
        content: write.content,
        compartments: write.resource.resourceType === 'Device' ? [] : write.compartments,
        deleted: false,
      };
    }
    await sql`insert into resource_history (resource_type, id, version, last_updated, deleted, content)
      values (${type}, ${id}, ${i + 1}, ${at}, ${current.deleted}, ${current.content})`.execute(database.db);
  }
  await sql`insert into resource (resource_type, id, version, last_updated, deleted, content, compartments)
    values (${type}, ${id}, ${versions.length}, ${at}, ${current.deleted}, ${current.content}, ${current.compartments}::text[])`.execute(
    database.db,
  );
}

test('0008 places every stored resource and version in the records it belongs to', async () => {
  const { error } = await migrator().migrateTo('0007-release-notice');
  expect(error).toBeUndefined();
  const ada = { reference: 'Patient/ada' };
  const cara = { reference: 'Patient/cara' };
  await storeOld('Patient', 'ada', [{ name: [{ family: 'Park' }] }]);
  await storeOld('Patient', 'cara', [{ name: [{ family: 'Park' }], link: [{ other: ada, type: 'seealso' }] }]);
  await storeOld('Condition', 'asserted', [{ code: { text: 'x' }, subject: cara, asserter: ada }]);
  await storeOld('Observation', 'moved', [
    { status: 'final', code: { text: 'x' }, subject: cara },
    { status: 'final', code: { text: 'x' }, subject: ada },
  ]);
  await storeOld('Observation', 'gone', [{ status: 'final', code: { text: 'x' }, subject: ada }, 'deleted']);
  await storeOld('Binary', 'attached', [{ contentType: 'text/plain', securityContext: { reference: 'Condition/asserted' } }]);
  await storeOld('Binary', 'own', [{ contentType: 'text/plain', securityContext: ada }]);
  await storeOld('Binary', 'loose', [{ contentType: 'text/plain' }]);
  await storeOld('Device', 'implant', [{ patient: ada }]);
  await storeOld('Practitioner', 'maya', [{ name: [{ family: 'Chen' }] }]);

  const { error: latest } = await migrator().migrateToLatest();
  expect(latest).toBeUndefined();
  const { rows: current } = await sql<{
    row: string;
  }>`select resource_type || '/' || id || ' ' || array_to_string(compartments, ',') || ' | ' || array_to_string(owners, ',') as row
    from resource order by 1`.execute(database.db);
  expect(current.map((r) => r.row)).toEqual([
    'Binary/attached cara,ada | cara',
    'Binary/loose  | Organization/',
    'Binary/own ada | ada',
    'Condition/asserted cara,ada | cara',
    'Device/implant ada | ada',
    'Observation/gone ada | ada',
    'Observation/moved ada | ada',
    'Patient/ada ada | ada',
    'Patient/cara cara,ada | cara',
    'Practitioner/maya  | ',
  ]);
  const { rows: history } = await sql<{
    row: string;
  }>`select resource_type || '/' || id || '/' || version || ' ' || array_to_string(compartments, ',') || ' | ' || array_to_string(owners, ',') as row
    from resource_history where resource_type = 'Observation' order by 1`.execute(database.db);
  expect(history.map((r) => r.row)).toEqual([
    'Observation/gone/1 ada | ada',
    'Observation/gone/2 ada | ada',
    'Observation/moved/1 cara | cara',
    'Observation/moved/2 ada | ada',
  ]);
  const { rows: indexes } = await sql<{
    name: string;
  }>`select indexname as name from pg_indexes where tablename = 'resource' order by 1`.execute(database.db);
  expect(indexes.map((i) => i.name)).toEqual(['resource_owners_idx', 'resource_pkey', 'resource_type_updated_idx']);
});
