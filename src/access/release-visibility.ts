/**
 * Unreleased results and documents, as SQL. A provider reviews a lab result or a note before the patient sees it:
 * until then a DocumentReference's docStatus is 'preliminary' and a DiagnosticReport's or Observation's status is
 * registered/partial/preliminary. Patients and their family see none of it (nor the Binary holding the document,
 * nor results tied to an unreleased document); staff see everything. Records entered in error are hidden from
 * patients too. The conditions run inside the visibility filter, so a hidden record is 404 on read and absent
 * from search, history, includes and $everything, exactly like one that does not exist.
 */
import { RawBuilder, sql } from 'kysely';

/** DocumentReference.docStatus values a patient must not see. An absent docStatus counts as released. */
export const UNRELEASED_DOC_STATUSES: readonly string[] = Object.freeze(['preliminary', 'entered-in-error']);

/** DiagnosticReport/Observation status values a patient must not see. */
export const UNRELEASED_RESULT_STATUSES: readonly string[] = Object.freeze(['registered', 'partial', 'preliminary', 'entered-in-error']);

/** The types whose visibility depends on release. */
export const RELEASE_GATED_TYPES: ReadonlySet<string> = new Set(['DocumentReference', 'DiagnosticReport', 'Observation', 'Binary']);

type Sql = RawBuilder<unknown>;

/** docStatus is not indexed (no R4 search parameter), so it is read from the stored JSON; documents are few. */
function docUnreleased(alias: string): Sql {
  return sql`coalesce((${sql.ref(`${alias}.content`)}::jsonb)->>'docStatus', 'final') = any(${UNRELEASED_DOC_STATUSES}::text[])`;
}

function statusUnreleased(alias: string): Sql {
  return sql`exists (select 1 from search_token s where s.resource_id = ${sql.ref(`${alias}.id`)}
    and s.resource_type = ${sql.ref(`${alias}.resource_type`)} and s.code = 'status'
    and s.value = any(${UNRELEASED_RESULT_STATUSES}::text[]))`;
}

/** A result listed in an unreleased document's context.related is part of that document. */
function tiedToUnreleasedDocument(alias: string): Sql {
  return sql`exists (select 1 from search_reference rel join resource doc
      on doc.resource_type = 'DocumentReference' and doc.id = rel.resource_id and doc.deleted = false
    where rel.target_id = ${sql.ref(`${alias}.id`)} and rel.code = 'related' and rel.resource_type = 'DocumentReference'
      and rel.target_type = ${sql.ref(`${alias}.resource_type`)} and ${docUnreleased('doc')})`;
}

function reportHidden(alias: string): Sql {
  return sql`(${statusUnreleased(alias)} or ${tiedToUnreleasedDocument(alias)})`;
}

/** The condition under which a row `alias` of `type` is hidden from patients, or undefined if it never is. */
export function unreleasedCondition(type: string, alias = 'r'): Sql | undefined {
  switch (type) {
    case 'DocumentReference':
      return docUnreleased(alias);
    case 'DiagnosticReport':
      return reportHidden(alias);
    case 'Observation':
      // An Observation is also hidden as a result of a hidden DiagnosticReport.
      return sql`(${reportHidden(alias)} or exists (select 1 from search_reference res join resource rep
          on rep.resource_type = 'DiagnosticReport' and rep.id = res.resource_id and rep.deleted = false
        where res.target_id = ${sql.ref(`${alias}.id`)} and res.code = 'result' and res.resource_type = 'DiagnosticReport'
          and res.target_type = 'Observation' and ${reportHidden('rep')}))`;
    case 'Binary':
      // A Binary follows its securityContext: the content of an unreleased document or report is hidden with it.
      return sql`exists (select 1 from resource ctx
        where ctx.deleted = false and ctx.resource_type in ('DocumentReference', 'DiagnosticReport')
          and ctx.resource_type || '/' || ctx.id = (${sql.ref(`${alias}.content`)}::jsonb) #>> '{securityContext,reference}'
          and ((ctx.resource_type = 'DocumentReference' and ${docUnreleased('ctx')})
            or (ctx.resource_type = 'DiagnosticReport' and ${reportHidden('ctx')})))`;
    default:
      return undefined;
  }
}

/** The same for rows of any type (one query over a whole compartment, as $everything runs). */
export function unreleasedConditionAnyType(alias = 'r'): Sql {
  const parts = [...RELEASE_GATED_TYPES].map(
    (type) => sql`(${sql.ref(`${alias}.resource_type`)} = ${type} and ${unreleasedCondition(type, alias) as Sql})`,
  );
  return sql`(${sql.join(parts, sql` or `)})`;
}
