import { createHash, randomBytes } from 'node:crypto';
import type { Binary, Subscription } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { unrestrictedScope } from '../../access/access-scope';
import { openTestDatabase, type TestDatabase } from '../../../test/support/test-database';
import { FixedClock } from '../clock';
import { Repository } from '../repository';
import { storedContentOf } from './binary-content';
import { contentOf } from './content-receiver';
import { CONTENT_PART_BYTES, databaseBinaryStore } from './database-binary-store';

let database: TestDatabase;
const clock = new FixedClock(new Date('2026-03-01T12:00:00Z'));

beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

/** A repository whose every statement (inside its transactions; not BEGIN and COMMIT) is counted in `statements`. */
function counted(statements: string[]): Repository {
  const db = database.db.withPlugin({
    transformQuery: (args) => {
      statements.push(args.node.kind);
      return args.node;
    },
    transformResult: (args) => Promise.resolve(args.result),
  });
  return new Repository(db, { scope: unrestrictedScope(), clock, fhirBase: 'http://test/fhir', binaries: databaseBinaryStore });
}

/** Uploads `bytes` as a new Binary; the statements it took, and the bytes read back from the store. */
async function upload(bytes: Buffer): Promise<{ statements: number; back: Buffer; binary: Binary }> {
  const statements: string[] = [];
  const repo = counted(statements);
  const { resource } = await repo.create<Binary>({ resourceType: 'Binary', contentType: 'application/pdf' }, { content: contentOf(bytes) });
  const count = statements.length;
  const stored = storedContentOf(resource)!;
  const pieces: Buffer[] = [];
  for await (const piece of repo.openContent(stored)) pieces.push(piece);
  return { statements: count, back: Buffer.concat(pieces), binary: resource };
}

async function rows(): Promise<{ content: number; parts: number }> {
  const { rows } = await sql<{ content: number; parts: number }>`select
    (select count(*)::int from binary_content) as content, (select count(*)::int from binary_content_part) as parts`.execute(database.db);
  return rows[0];
}

test('a file of one part goes to the database in the statement that writes its Binary', async () => {
  const file = randomBytes(CONTENT_PART_BYTES);
  const before = await rows();
  const { statements, back, binary } = await upload(file);
  expect(statements).toBe(1);
  expect(back.equals(file)).toBe(true);
  expect(storedContentOf(binary)).toEqual({ size: file.length, sha256: createHash('sha256').update(file).digest('hex') });
  expect(await rows()).toEqual({ content: before.content + 1, parts: before.parts + 1 });
});

test('an empty file is a content row without parts, in the same statement', async () => {
  const before = await rows();
  const { statements, back } = await upload(Buffer.alloc(0));
  expect(statements).toBe(1);
  expect(back.length).toBe(0);
  expect((await rows()).parts).toBe(before.parts);
});

test('the same bytes under a second Binary are stored once, and both read back', async () => {
  const file = randomBytes(300_000);
  const first = await upload(file);
  const before = await rows();
  const second = await upload(file);
  expect(second.binary.id).not.toBe(first.binary.id);
  expect(second.back.equals(file)).toBe(true);
  expect(await rows()).toEqual(before);
});

test('a file of more parts keeps a statement per part, the first with its content row', async () => {
  const file = randomBytes(2 * CONTENT_PART_BYTES + 1);
  const before = await rows();
  const { statements, back } = await upload(file);
  expect(statements).toBe(4);
  expect(back.equals(file)).toBe(true);
  expect(await rows()).toEqual({ content: before.content + 1, parts: before.parts + 3 });
});

test('a Binary whose statement fails leaves no bytes behind', async () => {
  const before = await rows();
  const repo = counted([]);
  const file = randomBytes(1000);
  // The same id twice in one batch: the statement that writes the Binaries (and the bytes with them) fails.
  const binary = { resourceType: 'Binary' as const, id: 'twice', contentType: 'application/pdf', data: file.toString('base64') };
  await expect(repo.createMany([binary, { ...binary }])).rejects.toThrow();
  expect(await rows()).toEqual(before);
});

test('a Subscription on Binaries hears of one whose bytes went in with it', async () => {
  const repo = counted([]);
  const { resource: subscription } = await repo.create<Subscription>({
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'Keep a copy of every file',
    criteria: 'Binary',
    channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/hook', payload: 'application/fhir+json' },
  });
  const queued = async (): Promise<number> => {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from subscription_notification
      where subscription_id = ${subscription.id}`.execute(database.db);
    return rows[0].n;
  };
  const before = await queued();
  // The statement that writes the Binary with its bytes also reads the active Subscriptions the notice is matched by.
  const { back } = await upload(randomBytes(5000));
  expect(back.length).toBe(5000);
  expect(await queued()).toBe(before + 1);
});
