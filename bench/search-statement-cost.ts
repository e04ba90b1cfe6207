/**
 * What the Node side of a portal search costs before any database work: parsing the query, building the page's
 * statement (with its gate and its access record, as a staff account's or Ada's search runs it) and compiling it,
 * in µs per search, against a driver that answers every statement with an empty page. Each search
 * is run for a different patient each time, as a practice's staff search, so a cache of statements by their values
 * would not help it.
 *
 * Run: npx tsx bench/search-statement-cost.ts [iterations=3000]
 */
import { type DatabaseConnection, DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import type { AccessScope } from '../src/access/access-scope';
import { portalScope, staffScope } from '../src/access/portal-scope';
import type { Tables } from '../src/db/tables';
import { loadFhirDefinitions } from '../src/fhir/definitions';
import { parseSearch } from '../src/fhir/search/parse-search';
import { type CallerConfirmation, type PageOptions, searchPage } from '../src/fhir/search/search-executor';

const ITERATIONS = Number(process.argv[2] ?? 3000);

/** Answers every statement with the one row of a page whose gate held and which read nothing. */
class EmptyPageDriver extends DummyDriver {
  override acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve({
      executeQuery: <R>() => Promise.resolve({ rows: [{ caller_ok: true, settled: true, id: null }] as R[] }),
      streamQuery: () => {
        throw new Error('A search does not stream its page');
      },
    });
  }
}

const db = new Kysely<Tables>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new EmptyPageDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

const SEARCHES: Record<string, (patient: string, i: number) => string> = {
  '1 labs': (p) => `patient=Patient/${p}&category=laboratory&_sort=-date&_count=50`,
  '2 inbox': (p) => `subject=Patient/${p}&_sort=-sent&_count=20`,
  '6 name+birthdate': (_p, i) => `name=${['park', 'ada', 'lee', 'kim'][i % 4]}&birthdate=19${50 + (i % 40)}-0${1 + (i % 9)}-1${i % 10}`,
  '7b include': (p) => `patient=Patient/${p}&_include=MedicationRequest:medication`,
};
const TYPES: Record<string, string> = {
  '1 labs': 'Observation',
  '2 inbox': 'Communication',
  '6 name+birthdate': 'Patient',
  '7b include': 'MedicationRequest',
};

async function main(): Promise<void> {
  loadFhirDefinitions();
  const patients = Array.from({ length: 50 }, (_, i) => `patient-${i}`);
  // A caller taken on trust, as caller-scope.ts makes one: its condition built for each search, at that search's time.
  const confirmation = (key: string): CallerConfirmation => {
    const at = (now: unknown) => sql<boolean>`exists (select 1 from account a where a.id = ${key} and a.created_at < ${now})`;
    const now = new Date();
    return { condition: at(now), timed: { key, now, at }, confirmed: () => undefined };
  };
  const callers: Record<string, { scope: AccessScope; options: (i: number) => PageOptions }> = {
    staff: {
      scope: staffScope('org-1', 'staff'),
      options: () => ({
        record: { agent: { who: { reference: 'Practitioner/p1' }, requestor: true }, interaction: 'search-type', recorded: new Date() },
        confirmation: confirmation('staff caller'),
      }),
    },
    Ada: {
      scope: portalScope([{ patientId: patients[0], level: 'full', self: true }], 'Ada'),
      options: () => ({ onServed: () => undefined, confirmation: confirmation('portal caller') }),
    },
  };
  for (const [callerName, caller] of Object.entries(callers)) {
    for (const [name, query] of Object.entries(SEARCHES)) {
      const type = TYPES[name];
      const run = async (i: number): Promise<void> => {
        const patient = callerName === 'Ada' ? patients[0] : patients[i % patients.length];
        const request = parseSearch(type, query(patient, i));
        const links = { url: `http://localhost/fhir/${type}`, params: new URLSearchParams(query(patient, i)) };
        await searchPage(db, caller.scope, request, links, 'http://localhost/fhir', caller.options(i));
      };
      for (let i = 0; i < 500; i++) await run(i);
      // CPU time, not wall time: on a shared machine the wait for a core is not the search's cost.
      const started = process.cpuUsage();
      for (let i = 0; i < ITERATIONS; i++) await run(i);
      const used = process.cpuUsage(started);
      const micros = (used.user + used.system) / ITERATIONS;
      process.stdout.write(`${`${name}, ${callerName}`.padEnd(28)} ${micros.toFixed(1).padStart(7)} µs CPU per search\n`);
    }
  }
}

void main();
