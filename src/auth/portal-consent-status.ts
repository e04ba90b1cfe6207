/**
 * Whether a portal account has completed the current version of the practice's portal consent form. The form is the
 * Questionnaire stored under a fixed id (published from fhir-profiles/ at start, or a new version written by the
 * operator); the accounts that completed a version are in `portal_consent`. Read on every portal request while the
 * practice asks for the form, so a new version asks every account again on its very next request.
 */
import { Kysely, type RawBuilder, type SqlBool, sql } from 'kysely';
import type { ConsentRequired } from '../access/caller';
import { prepared } from '../db/prepared-statement';
import type { Tables } from '../db/tables';

/** The id the portal consent form is stored under. */
export const PORTAL_CONSENT_FORM_ID = 'portal-consent';

/**
 * The form `accountId` still has to complete, or undefined when it completed the current version (or no form is
 * published: a practice that deletes its form stops asking). One indexed statement.
 */
export async function pendingPortalConsent(
  db: Kysely<Tables>,
  accountId: string,
  formId: string = PORTAL_CONSENT_FORM_ID,
): Promise<ConsentRequired | undefined> {
  const { rows } = await prepared(sql<{ url: string | null; version: string | null; accepted: boolean }>`
    select f.url, f.version, exists (select 1 from portal_consent c
      where c.account_id = ${accountId} and c.form_url = f.url and c.form_version = f.version) as accepted
    from (select q.content::jsonb ->> 'url' as url, q.content::jsonb ->> 'version' as version
      from resource q where q.resource_type = 'Questionnaire' and q.id = ${formId} and q.deleted = false) f`).execute(db);
  const form = rows[0];
  if (!form || form.accepted) return undefined;
  return { formId, url: form.url ?? '', version: form.version ?? '' };
}

/**
 * True in SQL when `accountId` has completed the current version of the form (or no form is published): what
 * pendingPortalConsent finds nothing pending for, for a caller taken on trust (src/auth/caller-scope.ts).
 */
export function portalConsentCompleted(accountId: string, formId: string = PORTAL_CONSENT_FORM_ID): RawBuilder<SqlBool> {
  return sql<SqlBool>`not exists (select 1 from resource q where q.resource_type = 'Questionnaire' and q.id = ${formId} and q.deleted = false
    and not exists (select 1 from portal_consent c where c.account_id = ${accountId}
      and c.form_url = q.content::jsonb ->> 'url' and c.form_version = q.content::jsonb ->> 'version'))`;
}
