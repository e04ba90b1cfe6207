import { Kysely, sql } from 'kysely';

/**
 * One portal login per patient, enforced by the database (two registrations racing for one record cannot both
 * win), and `job_run`: which scheduled job has done which day's work, so a restart or a second instance does
 * not send the week-ahead birthday notices twice.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create unique index account_one_login_per_patient on account (patient_id) where kind = 'patient'`.execute(db);
  await sql`create table job_run (
    job text not null,
    run_key text not null,
    finished_at timestamptz not null,
    primary key (job, run_key)
  )`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table job_run`.execute(db);
  await sql`drop index account_one_login_per_patient`.execute(db);
}
