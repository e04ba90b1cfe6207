/**
 * The portal's seven everyday searches (issue 22; the seventh in two forms) as the bench runs them: the product's
 * URL for a patient, and reference (3), the least a server can do for the same answer on this database: one
 * prepared statement running the indexed SQL the search needs (the patient's rows of one type through the reference
 * index, the same filters, ordered, limited to the page; includes in the same statement) and a searchset Bundle
 * built by string concatenation around the stored JSON. No access rules, no audit, no total: a ceiling.
 */
import type { Pool } from 'pg';
import { dateRange } from '../../src/fhir/search/date-range';
import type { BenchPatient } from './portal-extras';

/** One search of the bench. */
export interface PortalBenchSearch {
  /** Short key: 1 ... 7b. */
  readonly key: string;
  readonly name: string;
  /** The product's request for this patient (staff search any patient; Ada her own). */
  path(patient: BenchPatient): string;
  /** The reference's request for the same search (served by serveReferenceSearch). */
  referencePath(patient: BenchPatient): string;
}

/** The filters and order of a search of one patient's record, as plain SQL pieces (constants of the shape). */
interface RecordSearch {
  readonly type: string;
  readonly param: string;
  /** Conditions on `r` (checked per row, by the row's id). */
  readonly filters: readonly string[];
  /** A date parameter to sort by, newest first. */
  readonly sortDate?: string;
  readonly count: number;
  /** The statement's tail after the page (includes), selecting (mode, type, id, content, ord). */
  readonly includes?: string;
}

const token = (type: string, code: string, value: string, system?: string): string =>
  `exists (select 1 from search_token i where i.resource_id = r.id and i.resource_type = '${type}' and i.code = '${code}'` +
  `${system ? ` and i.system = '${system}'` : ''} and i.value = '${value}')`;

/** The statement of one record search: `$1` is the patient's id. */
function recordSql(s: RecordSearch): string {
  const order = [
    ...(s.sortDate
      ? [
          `(select max(i.high) from search_date i where i.resource_id = r.id and i.resource_type = '${s.type}' and i.code = '${s.sortDate}') desc nulls last`,
        ]
      : []),
    'r.last_updated desc',
    'r.id',
  ].join(', ');
  return `with page as (
    select r.id, r.content, row_number() over (order by ${order}) as ord
    from (select distinct d.resource_id from search_reference d
      where d.target_id = $1 and d.code = '${s.param}' and d.resource_type = '${s.type}' and d.target_type = 'Patient') d
    join resource r on r.resource_type = '${s.type}' and r.id = d.resource_id and not r.deleted
    ${s.filters.length ? `where ${s.filters.join(' and ')}` : ''}
    order by ${order} limit ${s.count})
  select 'match' as mode, '${s.type}' as type, id, content, ord from page
  ${s.includes ?? ''}
  order by mode desc, ord`;
}

/** Each reference statement by key, and how its parameters come from the query. */
const REFERENCE: Record<string, { text: string; values(query: Record<string, string>): unknown[] }> = {
  '1': {
    text: recordSql({
      type: 'Observation',
      param: 'patient',
      filters: [token('Observation', 'category', 'laboratory')],
      sortDate: 'date',
      count: 50,
    }),
    values: (q) => [q.patient],
  },
  '2': {
    text: recordSql({ type: 'Communication', param: 'subject', filters: [], sortDate: 'sent', count: 20 }),
    values: (q) => [q.patient],
  },
  '3': {
    text: recordSql({ type: 'DocumentReference', param: 'patient', filters: [], sortDate: 'date', count: 20 }),
    values: (q) => [q.patient],
  },
  '4': {
    text: recordSql({ type: 'AuditEvent', param: 'patient', filters: [], sortDate: 'date', count: 50 }),
    values: (q) => [q.patient],
  },
  '5': {
    text: recordSql({
      type: 'Observation',
      param: 'patient',
      filters: [token('Observation', 'code', '4548-4', 'http://loinc.org')],
      sortDate: 'date',
      count: 20,
    }),
    values: (q) => [q.patient],
  },
  '6': {
    text: `select 'match' as mode, 'Patient' as type, r.id, r.content from resource r
      where r.resource_type = 'Patient' and not r.deleted
        and exists (select 1 from search_string i where i.resource_type = 'Patient' and i.code = 'name' and i.value like $1 and i.resource_id = r.id)
        and exists (select 1 from search_date i where i.resource_type = 'Patient' and i.code = 'birthdate' and i.resource_id = r.id
          and i.low >= $2::timestamptz and i.high <= $3::timestamptz)
      order by r.last_updated desc, r.id limit 20`,
    values: (q) => {
      const range = dateRange(q.birthdate)!;
      return [`${q.name.toLowerCase()}%`, range.low, range.high];
    },
  },
  '7a': {
    text: recordSql({
      type: 'Condition',
      param: 'patient',
      filters: [],
      count: 20,
      includes: `union all
        select 'include', 'Provenance', p.id, p.content, 0 from (select distinct i.resource_id from search_reference i
          where i.target_id in (select id from page) and i.code = 'target' and i.resource_type = 'Provenance' and i.target_type = 'Condition') i
        join resource p on p.resource_type = 'Provenance' and p.id = i.resource_id and not p.deleted`,
    }),
    values: (q) => [q.patient],
  },
  '7b': {
    text: recordSql({
      type: 'MedicationRequest',
      param: 'patient',
      filters: [],
      count: 20,
      includes: `union all
        select 'include', 'Medication', m.id, m.content, 0 from (select distinct i.target_id from page
          join search_reference i on i.resource_id = page.id and i.resource_type = 'MedicationRequest' and i.code = 'medication'
            and i.target_type = 'Medication') i
        join resource m on m.resource_type = 'Medication' and m.id = i.target_id and not m.deleted`,
    }),
    values: (q) => [q.patient],
  },
};

const patientRef = (p: BenchPatient): string => `Patient/${p.id}`;
const nameOf = (p: BenchPatient): string => p.family.slice(0, 4).toLowerCase();

/** The seven searches. */
export const PORTAL_BENCH_SEARCHES: readonly PortalBenchSearch[] = [
  {
    key: '1',
    name: 'Observation labs, -date, 50',
    path: (p) => `/fhir/Observation?patient=${patientRef(p)}&category=laboratory&_sort=-date&_count=50`,
    referencePath: (p) => `/reference-search/1?patient=${p.id}`,
  },
  {
    key: '2',
    name: 'Communication inbox, -sent, 20',
    path: (p) => `/fhir/Communication?subject=${patientRef(p)}&_sort=-sent&_count=20`,
    referencePath: (p) => `/reference-search/2?patient=${p.id}`,
  },
  {
    key: '3',
    name: 'DocumentReference, -date',
    path: (p) => `/fhir/DocumentReference?patient=${patientRef(p)}&_sort=-date`,
    referencePath: (p) => `/reference-search/3?patient=${p.id}`,
  },
  {
    key: '4',
    name: 'AuditEvent activity, -date, 50',
    path: (p) => `/fhir/AuditEvent?patient=${patientRef(p)}&_sort=-date&_count=50`,
    referencePath: (p) => `/reference-search/4?patient=${p.id}`,
  },
  {
    key: '5',
    name: 'Observation HbA1c over time, -date',
    path: (p) => `/fhir/Observation?patient=${patientRef(p)}&code=http://loinc.org%7C4548-4&_sort=-date`,
    referencePath: (p) => `/reference-search/5?patient=${p.id}`,
  },
  {
    key: '6',
    name: 'Patient name + birthdate',
    path: (p) => `/fhir/Patient?name=${nameOf(p)}&birthdate=${p.birthDate}`,
    referencePath: (p) => `/reference-search/6?name=${nameOf(p)}&birthdate=${p.birthDate}`,
  },
  {
    key: '7a',
    name: 'Condition + _revinclude Provenance',
    path: (p) => `/fhir/Condition?patient=${patientRef(p)}&_revinclude=Provenance:target`,
    referencePath: (p) => `/reference-search/7a?patient=${p.id}`,
  },
  {
    key: '7b',
    name: 'MedicationRequest + _include medication',
    path: (p) => `/fhir/MedicationRequest?patient=${patientRef(p)}&_include=MedicationRequest:medication`,
    referencePath: (p) => `/reference-search/7b?patient=${p.id}`,
  },
];

/**
 * Answers GET /reference-search/:key: the search's one prepared statement, then the Bundle as a string around the
 * stored JSON. Resolves to the body; rejects for an unknown key.
 */
export async function serveReferenceSearch(pool: Pool, key: string, query: Record<string, string>, base: string): Promise<string> {
  const reference = REFERENCE[key];
  if (!reference) throw new Error(`unknown reference search ${key}`);
  const { rows } = await pool.query<{ mode: string; type: string; id: string; content: string }>({
    name: `reference-search-${key}`,
    text: reference.text,
    values: reference.values(query),
  });
  let body = `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"${base}/reference-search/${key}"}],"entry":[`;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    body += `${i ? ',' : ''}{"fullUrl":"${base}/${row.type}/${row.id}","resource":${row.content},"search":{"mode":"${row.mode}"}}`;
  }
  return `${body}]}`;
}
