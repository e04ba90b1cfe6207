import { Kysely, sql } from 'kysely';

/**
 * Enrollment (issue 19). `portal_consent`: which version of the practice's portal consent form each account has
 * completed, written with the QuestionnaireResponse and Consent that record it; the consent gate reads it on every
 * portal request. `account_record`: the records an account holds as the patient beyond `account.patient_id`, one per
 * further practice it enrolled at with a security token; un-enrolling ends a link (`ended_at`), it is never deleted.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table portal_consent (
    account_id text not null references account (id) on delete cascade,
    form_url text not null,
    form_version text not null,
    accepted_at timestamptz not null,
    consent_ids text[] not null,
    response_ids text[] not null,
    primary key (account_id, form_url, form_version)
  )`.execute(db);
  await sql`create table account_record (
    account_id text not null references account (id) on delete cascade,
    patient_id text not null,
    organization_id text,
    linked_at timestamptz not null,
    ended_at timestamptz,
    primary key (account_id, patient_id)
  )`.execute(db);
  // One account per patient record, as account.patient_id is: a record cannot be linked to a second person's login.
  await sql`create unique index account_record_patient on account_record (patient_id) where ended_at is null`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table account_record, portal_consent`.execute(db);
}
