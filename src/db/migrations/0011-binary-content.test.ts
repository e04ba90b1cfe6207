import { createHash, randomBytes } from 'node:crypto';
import type { Binary } from '@medplum/fhirtypes';
import { Migrator, sql } from 'kysely';
import { unrestrictedScope } from '../../access/access-scope';
import { storedContentOf } from '../../fhir/binary/binary-content';
import { systemClock } from '../../fhir/clock';
import { loadFhirDefinitions } from '../../fhir/definitions';
import { Repository } from '../../fhir/repository';
import { type Database, openDatabase } from '../database';
import { createScratchDatabase, type ScratchDatabase } from '../../../test/support/scratch-database';
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

/** Stores Binary versions as the service did before 0011: the bytes as base64 in `data`. */
async function storeOld(id: string, versions: (Buffer | 'deleted')[]): Promise<void> {
  let current = { content: '{}', deleted: false };
  for (const [i, version] of versions.entries()) {
    current =
      version === 'deleted'
        ? { content: '{}', deleted: true }
        : {
            content: JSON.stringify({
              resourceType: 'Binary',
              id,
              meta: { versionId: String(i + 1) },
              contentType: 'application/pdf',
              securityContext: { reference: 'Patient/ada' },
              data: version.toString('base64'),
            }),
            deleted: false,
          };
    await sql`insert into resource_history (resource_type, id, version, last_updated, deleted, content, compartments, owners)
      values ('Binary', ${id}, ${i + 1}, ${at}, ${current.deleted}, ${current.content}, '{ada}', '{ada}')`.execute(database.db);
  }
  await sql`insert into resource (resource_type, id, version, last_updated, deleted, content, compartments, owners)
    values ('Binary', ${id}, ${versions.length}, ${at}, ${current.deleted}, ${current.content}, '{ada}', '{ada}')`.execute(database.db);
}

test('0011 moves the bytes of every stored Binary version out of its JSON, and each reads back as it was', async () => {
  expect((await migrator().migrateTo('0010-imported-file')).error).toBeUndefined();
  const scan = randomBytes(1_500_000); // two parts of 1 MiB
  const form = Buffer.from('%PDF-1.7 form');
  const revised = Buffer.from('%PDF-1.7 form, revised');
  await storeOld('scan', [scan]);
  await storeOld('form', [form, revised]);
  await storeOld('copy', [form]);
  await storeOld('gone', [revised, 'deleted']);
  await storeOld('empty', [Buffer.alloc(0)]);

  expect((await migrator().migrateToLatest()).error).toBeUndefined();
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const { rows: contents } = await sql<{ sha256: string; size: string; parts: string }>`select c.sha256, c.size::text as size,
    (select count(*) from binary_content_part p where p.sha256 = c.sha256)::text as parts from binary_content c order by c.size`.execute(
    database.db,
  );
  expect(contents).toEqual([
    { sha256: sha(Buffer.alloc(0)), size: '0', parts: '0' },
    { sha256: sha(form), size: String(form.length), parts: '1' },
    { sha256: sha(revised), size: String(revised.length), parts: '1' },
    { sha256: sha(scan), size: '1500000', parts: '2' },
  ]);
  const { rows: inline } = await sql`select 1 from resource_history where content like '%"data":%'`.execute(database.db);
  expect(inline).toEqual([]);

  const repo = new Repository(database.db, { scope: unrestrictedScope(), clock: systemClock, fhirBase: 'http://test/fhir' });
  const bytesOf = async (binary: Binary): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of repo.openContent(storedContentOf(binary)!)) chunks.push(chunk);
    return Buffer.concat(chunks);
  };
  const scanNow = await repo.read<Binary>('Binary', 'scan');
  expect(storedContentOf(scanNow)).toEqual({ sha256: sha(scan), size: 1_500_000 });
  expect(scanNow).toMatchObject({ contentType: 'application/pdf', securityContext: { reference: 'Patient/ada' } });
  expect((await bytesOf(scanNow)).equals(scan)).toBe(true);
  expect(await bytesOf(await repo.read<Binary>('Binary', 'form'))).toEqual(revised);
  expect(await bytesOf(JSON.parse((await repo.vread('Binary', 'form', '1')).content))).toEqual(form);
  expect(await bytesOf(await repo.read<Binary>('Binary', 'copy'))).toEqual(form);
  expect(await bytesOf(JSON.parse((await repo.vread('Binary', 'gone', '1')).content))).toEqual(revised);
  expect(storedContentOf(await repo.read<Binary>('Binary', 'empty'))).toEqual({ sha256: sha(Buffer.alloc(0)), size: 0 });
  // A range of the two-part file crosses the parts.
  const range: Buffer[] = [];
  for await (const chunk of repo.openContent(storedContentOf(scanNow)!, { start: 1048570, end: 1048581 })) range.push(chunk);
  expect(Buffer.concat(range)).toEqual(scan.subarray(1048570, 1048582));
});
