/**
 * Unreleased results and documents, as SQL. A provider reviews a lab result or a note before the patient sees it:
 * until then a DocumentReference's docStatus is 'preliminary' and a DiagnosticReport's or Observation's status is
 * registered/partial/preliminary. Patients and their family see none of it (nor the Binary holding the document,
 * nor results tied to an unreleased document); staff see everything. Records entered in error, of every type that
 * has that status, are hidden from patients too (a DocumentReference whose status is entered-in-error, whatever its
 * docStatus). The conditions run inside the visibility filter, so a hidden record is 404 on read and absent
 * from search, history, includes and $everything, exactly like one that does not exist.
 */
import type { Resource } from '@medplum/fhirtypes';
import { RawBuilder, sql } from 'kysely';

/** DocumentReference.docStatus values a patient must not see. An absent docStatus counts as released. */
export const UNRELEASED_DOC_STATUSES: readonly string[] = Object.freeze(['preliminary', 'entered-in-error']);

/** DiagnosticReport/Observation status values a patient must not see. */
export const UNRELEASED_RESULT_STATUSES: readonly string[] = Object.freeze(['registered', 'partial', 'preliminary', 'entered-in-error']);

/**
 * Per type of the patient's record, the status search parameter whose value `entered-in-error` says the record was
 * entered in error (R4: the types whose status, verificationStatus or lifecycleStatus value set has that code).
 * Observation and DiagnosticReport are covered by their release statuses; ChargeItem's status has no search parameter
 * (ENTERED_IN_ERROR_UNINDEXED); Medication is shared reference data, not part of anyone's record.
 */
const ENTERED_IN_ERROR_PARAM: Readonly<Record<string, string>> = {
  Encounter: 'status',
  Condition: 'verification-status',
  AllergyIntolerance: 'verification-status',
  MedicationRequest: 'status',
  MedicationStatement: 'status',
  Immunization: 'status',
  Procedure: 'status',
  Goal: 'lifecycle-status',
  CarePlan: 'status',
  CareTeam: 'status',
  Device: 'status',
  DocumentReference: 'status',
  Communication: 'status',
  Consent: 'status',
  Appointment: 'status',
  ServiceRequest: 'status',
  Task: 'status',
  QuestionnaireResponse: 'status',
  Account: 'status',
  Invoice: 'status',
  Coverage: 'status',
  Composition: 'status',
  Claim: 'status',
  ExplanationOfBenefit: 'status',
  ImagingStudy: 'status',
  MedicationAdministration: 'status',
  SupplyDelivery: 'status',
  FamilyMemberHistory: 'status',
  CommunicationRequest: 'status',
  PaymentReconciliation: 'status',
  PaymentNotice: 'status',
};

/** Types with an entered-in-error status that no search parameter indexes: read from the stored JSON. */
const ENTERED_IN_ERROR_UNINDEXED: ReadonlySet<string> = new Set(['ChargeItem']);

/** The types whose visibility depends on release or on being entered in error. */
export const RELEASE_GATED_TYPES: ReadonlySet<string> = new Set([
  'DocumentReference',
  'DiagnosticReport',
  'Observation',
  'Binary',
  ...Object.keys(ENTERED_IN_ERROR_PARAM),
  ...ENTERED_IN_ERROR_UNINDEXED,
]);

type Sql = RawBuilder<unknown>;

/** docStatus is not indexed (no R4 search parameter), so it is read from the stored JSON; documents are few. */
function docUnreleased(alias: string): Sql {
  return sql`coalesce(chartkeeper_jsonb(${sql.ref(`${alias}.content`)})->>'docStatus', 'final') = any(${UNRELEASED_DOC_STATUSES}::text[])`;
}

/**
 * An EXISTS run as a probe of the row at hand: its index lookups go by that row's id. "offset 0" keeps PostgreSQL from
 * turning it into a join or a hashed subplan, either of which reads every row that could hide any row (every
 * unreleased DiagnosticReport's status and results, every document's context) once per statement: a cost that grows
 * with the table, not with the page.
 */
function probe(body: Sql): Sql {
  return sql`exists (${body} offset 0)`;
}

/** The row of `type` whose id is `id` has a status (search parameter `code`) among `values`. */
function statusIn(id: Sql, type: Sql, code: string, values: readonly string[]): Sql {
  // resource_type as an expression: the lookup goes by the row's id (resource_id, resource_type, code), never by the
  // (resource_type, code, value) index, which a planner without statistics rated alike and walked for each row.
  return probe(sql`select 1 from search_token s where s.resource_id = ${id}
    and (s.resource_type || '') = ${type} and s.code = ${code} and s.value = any(${values}::text[])`);
}

/** The row `alias` (a resource row) has a status among `values`. */
function rowStatusIn(alias: string, code: string, values: readonly string[]): Sql {
  return statusIn(sql.ref(`${alias}.id`), sql.ref(`${alias}.resource_type`), code, values);
}

/** The record was entered in error, by its status (the R4 code is the same in every type that has it). */
function enteredInError(alias: string, type: string): Sql[] {
  const code = ENTERED_IN_ERROR_PARAM[type];
  if (code) return [rowStatusIn(alias, code, ['entered-in-error'])];
  if (ENTERED_IN_ERROR_UNINDEXED.has(type)) return [sql`chartkeeper_jsonb(${sql.ref(`${alias}.content`)})->>'status' = 'entered-in-error'`];
  return [];
}

/**
 * The resource of `type` whose id is `id` is listed in an unreleased document's context.related: from the row's own
 * reference rows (by target id) to each listing document by primary key.
 */
function tiedToUnreleasedDocument(id: Sql, type: string): Sql {
  return probe(sql`select 1 from search_reference rel
    where rel.target_id = ${id} and rel.code = 'related' and rel.resource_type = 'DocumentReference' and rel.target_type = ${type}
      and ${probe(sql`select 1 from resource doc where doc.resource_type = 'DocumentReference' and doc.id = rel.resource_id
        and doc.deleted = false and ${docUnreleased('doc')}`)}`);
}

/**
 * A result of a DiagnosticReport that is hidden itself (unreleased, or part of an unreleased document): from the row's
 * reference rows (the reports naming it as a result, by target id) to each report's own status and document links.
 */
function resultOfHiddenReport(alias: string): Sql {
  const report = sql`res.resource_id`;
  return probe(sql`select 1 from search_reference res
    where res.target_id = ${sql.ref(`${alias}.id`)} and res.code = 'result' and res.resource_type = 'DiagnosticReport'
      and res.target_type = 'Observation'
      and (${statusIn(report, sql`'DiagnosticReport'`, 'status', UNRELEASED_RESULT_STATUSES)} or ${tiedToUnreleasedDocument(report, 'DiagnosticReport')})`);
}

/**
 * The conditions under any of which a row `alias` of `type` is hidden from patients (none: it never is): each a probe
 * of the row at hand (see probe), whose cost is that of a few index lookups whatever the size of the tables.
 */
export function unreleasedClauses(type: string, alias = 'r'): Sql[] {
  switch (type) {
    case 'DocumentReference':
      return [docUnreleased(alias), ...enteredInError(alias, type)];
    case 'DiagnosticReport':
      return [rowStatusIn(alias, 'status', UNRELEASED_RESULT_STATUSES), tiedToUnreleasedDocument(sql.ref(`${alias}.id`), type)];
    case 'Observation':
      return [
        rowStatusIn(alias, 'status', UNRELEASED_RESULT_STATUSES),
        tiedToUnreleasedDocument(sql.ref(`${alias}.id`), type),
        resultOfHiddenReport(alias),
      ];
    case 'Binary':
      // A Binary follows its securityContext: the content of a hidden document, report, message... is hidden with it.
      return [
        // The reference is read from the JSON once, then looked up by primary key. chartkeeper_jsonb, not ::jsonb:
        // content stored before lone surrogates were refused must not fail the query (migration 0012).
        probe(sql`select 1 from (select chartkeeper_jsonb(${sql.ref(`${alias}.content`)}) #>> '{securityContext,reference}' as ref) sc
          join resource ctx on ctx.resource_type = split_part(sc.ref, '/', 1) and ctx.id = split_part(sc.ref, '/', 2)
          where ctx.deleted = false and ctx.resource_type <> 'Binary' and ${anyTypeHidden('ctx', false)}`),
      ];
    default:
      return enteredInError(alias, type);
  }
}

/** OR over every gated type of `(row is of that type and hidden)`; `withBinary` false leaves Binary out (no recursion). */
function anyTypeHidden(alias: string, withBinary: boolean): Sql {
  const parts = [...RELEASE_GATED_TYPES]
    .filter((type) => withBinary || type !== 'Binary')
    .map((type) => sql`(${sql.ref(`${alias}.resource_type`)} = ${type} and ${unreleasedCondition(type, alias) as Sql})`);
  return sql`(${sql.join(parts, sql` or `)})`;
}

/** The condition under which a row `alias` of `type` is hidden from patients, or undefined if it never is. */
export function unreleasedCondition(type: string, alias = 'r'): Sql | undefined {
  const clauses = unreleasedClauses(type, alias);
  return clauses.length ? sql`(${sql.join(clauses, sql` or `)})` : undefined;
}

/** The same for rows of any type (one query over a whole compartment, as $everything runs). */
export function unreleasedConditionAnyType(alias = 'r'): Sql {
  return anyTypeHidden(alias, true);
}

/**
 * Whether one stored version is unreleased by its own status: for vread and history, where an earlier draft of a
 * now released result or document (the preliminary values before review) must stay hidden from patients.
 */
export function unreleasedVersion(resource: { resourceType?: string; status?: string; docStatus?: string }): boolean {
  switch (resource.resourceType) {
    case 'DocumentReference':
      return resource.docStatus !== undefined && UNRELEASED_DOC_STATUSES.includes(resource.docStatus);
    case 'DiagnosticReport':
    case 'Observation':
      return resource.status !== undefined && UNRELEASED_RESULT_STATUSES.includes(resource.status);
    default:
      return false;
  }
}

/** The status elements that say a record was entered in error, as one stored version has them. */
export interface StatusFields {
  readonly resourceType?: string;
  readonly status?: string;
  readonly docStatus?: string;
  readonly verificationStatus?: { coding?: { code?: string }[] };
  readonly lifecycleStatus?: string;
}

/**
 * Whether one stored version is hidden from patients by its own content: unreleased (unreleasedVersion), or entered in
 * error. For vread and history: a version entered in error and corrected since stays hidden, as the current one would.
 */
export function hiddenVersion(resource: StatusFields): boolean {
  if (unreleasedVersion(resource)) return true;
  const type = resource.resourceType ?? '';
  if (!ENTERED_IN_ERROR_PARAM[type] && !ENTERED_IN_ERROR_UNINDEXED.has(type)) return false;
  return (
    resource.status === 'entered-in-error' ||
    resource.lifecycleStatus === 'entered-in-error' ||
    (resource.verificationStatus?.coding ?? []).some((c) => c.code === 'entered-in-error')
  );
}

/**
 * Whether a new version releases a document to the patient: the version it replaces was a draft the patient could
 * not see (docStatus preliminary), this one is released. A document created already released is not announced. Releasing is what tells the patient (release_notice, the email job).
 */
export function releases(before: Resource, after: Resource): boolean {
  if (before.resourceType !== 'DocumentReference' || after.resourceType !== 'DocumentReference') return false;
  // From a draft (preliminary) only: a version entered in error that is restored is not news to announce.
  return before.docStatus === 'preliminary' && !unreleasedVersion(after) && after.status !== 'entered-in-error';
}
