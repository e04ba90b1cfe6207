import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { ByteChunks } from './byte-chunks';

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
  await sql`create table chunk_test (id integer primary key, label text, data bytea)`.execute(database.db);
});
afterAll(() => database.close());

async function stored(id: number): Promise<{ label: string | null; data: Buffer | null }> {
  const { rows } = await sql<{
    label: string | null;
    data: string | null;
  }>`select label, data::text as data from chunk_test where id = ${id}`.execute(database.db);
  const data = rows[0].data;
  return { label: rows[0].label, data: data === null ? null : Buffer.from(data.slice(2), 'hex') };
}

test('bytes given in pieces are stored as the pieces joined, beside text and number parameters', async () => {
  const whole = randomBytes(300_000);
  // Pieces of every kind a request body arrives in: large, tiny, empty, and views into one buffer.
  const pieces = [
    whole.subarray(0, 65_536),
    whole.subarray(65_536, 65_537),
    Buffer.alloc(0),
    whole.subarray(65_537, 200_000),
    whole.subarray(200_000),
  ];
  const result = await sql`insert into chunk_test (id, label, data) values (${1}, ${'Größe 体重 🩺'}, ${new ByteChunks(pieces)})`.execute(
    database.db,
  );
  expect(result.numAffectedRows).toBe(1n);
  const row = await stored(1);
  expect(row.label).toBe('Größe 体重 🩺');
  expect(row.data!.equals(whole)).toBe(true);
});

test('no pieces are an empty bytea, and null beside them is SQL null', async () => {
  await sql`insert into chunk_test (id, label, data) values (${2}, ${null}, ${new ByteChunks([])})`.execute(database.db);
  expect(await stored(2)).toEqual({ label: null, data: Buffer.alloc(0) });
});

test('a statement the server refuses fails as itself, and the connection keeps working (in a transaction too)', async () => {
  await expect(
    sql`insert into chunk_test (id, data) values (${1}, ${new ByteChunks([Buffer.from('again')])})`.execute(database.db),
  ).rejects.toMatchObject({ code: '23505' });
  await expect(
    database.db.transaction().execute(async (trx) => {
      await sql`insert into chunk_test (id, data) values (${3}, ${new ByteChunks([Buffer.from('kept?')])})`.execute(trx);
      await sql`insert into chunk_test (id, data) values (${1}, ${new ByteChunks([Buffer.from('again')])})`.execute(trx);
    }),
  ).rejects.toMatchObject({ code: '23505' });
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from chunk_test where id = 3`.execute(database.db);
  expect(rows[0].n).toBe('0');
  await sql`insert into chunk_test (id, data) values (${4}, ${new ByteChunks([Buffer.from('after')])})`.execute(database.db);
  expect((await stored(4)).data).toEqual(Buffer.from('after'));
});

test('a statement with bytes in pieces returns its rows, parsed as for any other statement', async () => {
  const { rows } = await sql<{ id: number; size: number; at: Date }>`insert into chunk_test (id, data)
    values (${5}, ${new ByteChunks([Buffer.from('ab'), Buffer.from('c')])}) returning id, length(data) as size, now() as at`.execute(
    database.db,
  );
  expect(rows).toEqual([{ id: 5, size: 3, at: expect.any(Date) }]);
});
