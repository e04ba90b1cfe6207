/**
 * Issue 24 item 4: a search of hundreds of parameters froze the embedded server for 44 s and ran 111 s on a
 * PostgreSQL backend after its client left. Now: the number of parameters and of values of a search is limited (400
 * naming the limit, at once); on PostgreSQL every statement has a statement_timeout (503, the backend stops); and a
 * request whose client leaves stops: its running statement is cancelled (PostgreSQL) and no further statement of it
 * runs (both databases; PGlite runs a statement it started to its end, on the server's one thread).
 *
 * The slow statements are a test operation's (`$hold`), as no real request may take that long any more.
 */
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import type { FhirOperation } from '../src/fhir/operations/operation';
import { allOperations } from '../src/operations';
import { MAX_SEARCH_PARAMETERS, MAX_SEARCH_VALUES } from '../src/fhir/search/parse-search';
import { type AccessFamily, startAccessFamily } from './support/access-family';
import { recordState } from './support/record-state';
import { startTestApp, type TestApp } from './support/test-app';

const onPostgres = Boolean(process.env.DATABASE_URL);

async function answer(res: Response): Promise<[number, string | undefined]> {
  const body = (await res.json()) as OperationOutcome;
  return [res.status, body.issue?.[0]?.details?.text];
}

describe('issue 24 item 4: search size limits', () => {
  let f: AccessFamily;
  beforeAll(async () => {
    f = await startAccessFamily('westmed');
  });
  afterAll(() => f?.close());

  it('refuses a search of more parameters or values than allowed at once (400 naming the limit), storing nothing', async () => {
    const ada = await f.token('ada');
    const before = await recordState(f.app.database);
    const codes = (n: number) => Array.from({ length: n }, (_, i) => `code=c${i}`).join('&');
    const started = Date.now();
    expect(await answer(await f.app.request(`/fhir/Observation?${codes(400)}`, { token: ada }))).toEqual([
      400,
      `A search may have at most ${MAX_SEARCH_PARAMETERS} parameters; this one has 400`,
    ]);
    expect(Date.now() - started).toBeLessThan(5_000); // refused before any statement: it froze the server 44 s
    expect(await answer(await f.app.request(`/fhir/Observation?${codes(MAX_SEARCH_PARAMETERS + 1)}`, { token: ada }))).toEqual([
      400,
      `A search may have at most ${MAX_SEARCH_PARAMETERS} parameters; this one has ${MAX_SEARCH_PARAMETERS + 1}`,
    ]);
    expect((await f.app.request(`/fhir/Observation?${codes(MAX_SEARCH_PARAMETERS)}`, { token: ada })).status).toBe(200);
    const values = (n: number) => `code=${Array.from({ length: n }, (_, i) => `c${i}`).join(',')}`;
    expect(await answer(await f.app.request(`/fhir/Observation?${values(MAX_SEARCH_VALUES + 1)}`, { token: ada }))).toEqual([
      400,
      `A search may have at most ${MAX_SEARCH_VALUES} values (comma-separated alternatives included); this one has ${MAX_SEARCH_VALUES + 1}`,
    ]);
    expect((await f.app.request(`/fhir/Observation?${values(MAX_SEARCH_VALUES)}`, { token: ada })).status).toBe(200);
    // The same limits on POST _search and on a batch's search entry.
    const form = await f.app.request('/fhir/Observation/_search', {
      method: 'POST',
      token: ada,
      body: codes(400),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(await answer(form)).toEqual([400, `A search may have at most ${MAX_SEARCH_PARAMETERS} parameters; this one has 400`]);
    const batch = await f.app.request('/fhir', {
      method: 'POST',
      token: ada,
      json: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { request: { method: 'GET', url: `Observation?${codes(400)}` } },
          { request: { method: 'GET', url: 'Observation?code=x' } },
        ],
      },
    });
    expect(batch.status).toBe(200);
    const entries = ((await batch.json()) as Bundle).entry!;
    expect(entries.map((e) => e.response?.status)).toEqual(['400', '200 OK']);
    expect((entries[0].response?.outcome as OperationOutcome).issue[0].details?.text).toBe(
      `A search may have at most ${MAX_SEARCH_PARAMETERS} parameters; this one has 400`,
    );
    expect(await recordState(f.app.database)).toEqual(before);
  });
});

describe('issue 24 item 4: statement timeout and cancelling on disconnect', () => {
  let app: TestApp;
  /** What `$hold` ran, in order: "started", then "wrote" if its second statement ran. */
  const ran: string[] = [];
  /** `$hold?seconds=N`: one statement that takes N s (pg_sleep; on PGlite, a JS wait), then a write. */
  const hold: FhirOperation = {
    info: { name: 'hold', definition: 'test' },
    level: 'system',
    methods: ['GET'],
    async handle({ params }) {
      const seconds = Number(params.seconds);
      ran.push('started');
      if (onPostgres) await sql`select pg_sleep(${seconds})`.execute(app.database.db);
      else await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      await sql`insert into imported_file (sha256, entry, file_name, path, resources, imported_at) values ('hold', 1, 'hold', 'hold', 0, now())`.execute(
        app.database.db,
      );
      ran.push('wrote');
      return { kind: 'content', contentType: 'text/plain', body: 'held' };
    },
  };
  beforeAll(async () => {
    app = await startTestApp({ config: { statementTimeoutMs: onPostgres ? 1_000 : 0 }, deps: { operations: [...allOperations(), hold] } });
  });
  afterAll(() => app?.close());

  /** The statements of this test database still running on the server, other than the one asking. */
  async function running(): Promise<string[]> {
    const { rows } = await sql<{ query: string }>`select query from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and state = 'active'`.execute(app.database.db);
    return rows.map((r) => r.query);
  }
  const held = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from imported_file where sha256 = 'hold'`.execute(app.database.db)).rows[0].n;

  (onPostgres ? it : it.skip)(
    'stops a statement past STATEMENT_TIMEOUT_MS: 503 with an OperationOutcome, the backend stops (PostgreSQL)',
    async () => {
      ran.length = 0;
      const started = Date.now();
      const res = await app.request('/fhir/$hold?seconds=20');
      expect(await answer(res)).toEqual([
        503,
        'The request took longer than the database allows for one statement, and was stopped; narrow it (fewer parameters, a shorter period) and try again',
      ]);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await running()).toEqual([]);
      expect(ran).toEqual(['started']);
      expect(await held()).toBe(0);
    },
  );

  it('stops the work of a request whose client leaves: its statement is cancelled (PostgreSQL) and its next one never runs', async () => {
    ran.length = 0;
    const controller = new AbortController();
    const request = app.request('/fhir/$hold?seconds=0.8', { signal: controller.signal }).catch((err: Error) => err.name);
    await waitFor(() => ran.length > 0);
    if (onPostgres) await waitFor(async () => (await running()).some((q) => q.includes('pg_sleep')));
    controller.abort();
    expect(await request).toBe('AbortError');
    if (onPostgres) {
      // Cancelled at once, not after its 0.8 s... and not left running for nobody.
      await waitFor(async () => (await running()).length === 0, 500);
    }
    // Long after the hold would have ended, its write has not happened.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(ran).toEqual(['started']);
    expect(await held()).toBe(0);
    // The connection it used is clean: the next request works.
    expect((await app.request('/fhir/Patient')).status).toBe(200);
  });
});

/** Polls until `check` holds, failing after `ms`. */
async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
