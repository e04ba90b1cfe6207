/**
 * The practice's portal consent form: a versioned Questionnaire whose text lives in fhir-profiles/ (the file a practice
 * edits), published into the database at start under a fixed id, where every signed-in account can read it. A
 * version is published once: editing the text and raising `version` asks every account again; a version the operator
 * wrote through the API stays until the file names a version not stored before.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Questionnaire } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { PORTAL_CONSENT_FORM_ID } from '../../auth/portal-consent-status';
import { FhirError } from '../../fhir/outcomes';
import type { Repository } from '../../fhir/repository';
import { projectRoot } from '../../project-root';

/** The file the form is published from. */
export const CONSENT_FORM_FILE = 'Questionnaire-portal-consent.json';

/** Reads the form from fhir-profiles/ (or `file`); a form without id, url or version stops the start. */
export function readConsentFormFile(file: string = path.join(projectRoot(), 'fhir-profiles', CONSENT_FORM_FILE)): Questionnaire {
  const form = JSON.parse(fs.readFileSync(file, 'utf8')) as Questionnaire;
  if (form.resourceType !== 'Questionnaire' || form.id !== PORTAL_CONSENT_FORM_ID || !form.url || !form.version) {
    throw new Error(`${file}: the portal consent form must be a Questionnaire with id "${PORTAL_CONSENT_FORM_ID}", a url and a version`);
  }
  return form;
}

/**
 * Publishes `form` unless its version was published before (it is current, or was replaced by a version written
 * through the API). `repo` must be the service's own (unrestricted). Returns whether a new version was written.
 */
export async function publishConsentForm(repo: Repository, form: Questionnaire): Promise<boolean> {
  const { rows } = await sql<{ found: number }>`
    select 1 as found from resource_history h
    where h.resource_type = 'Questionnaire' and h.id = ${form.id} and h.deleted = false and h.content::jsonb ->> 'version' = ${form.version ?? ''}
    limit 1`.execute(repo.db);
  if (rows.length) return false;
  // The stored version's meta is the service's own.
  const content: Questionnaire = { ...form };
  delete content.meta;
  try {
    await repo.update<Questionnaire>(content);
  } catch (err) {
    // Several instances starting at once: another one published this version first.
    const again = await sql<{ found: number }>`
      select 1 as found from resource_history h where h.resource_type = 'Questionnaire' and h.id = ${form.id}
      and h.content::jsonb ->> 'version' = ${form.version ?? ''} limit 1`.execute(repo.db);
    if (!again.rows.length) throw err;
    return false;
  }
  return true;
}

/** The form as published now, or undefined when none is. */
export async function currentConsentForm(repo: Repository): Promise<Questionnaire | undefined> {
  try {
    return await repo.read<Questionnaire>('Questionnaire', PORTAL_CONSENT_FORM_ID);
  } catch (err) {
    if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return undefined;
    throw err;
  }
}
