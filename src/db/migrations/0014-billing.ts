import { Kysely, sql } from 'kysely';

/**
 * Billing (src/portal/billing):
 * - `billing_notice`: emails still to go, "a statement is available" (queued in the transaction that issues an
 *   Invoice) and payment receipts (queued in the transaction that records the payment); the billing-notice job
 *   sends and deletes them, so a write that rolls back announces nothing and one that commits is never forgotten.
 * - `payment_event`: every payment processor event already recorded, by the processor's event id, written in the
 *   transaction that records it: a replayed or duplicated webhook finds its row and records nothing new.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table billing_notice (
    seq bigserial primary key,
    kind text not null check (kind in ('statement', 'receipt')),
    patient_id text not null,
    invoice_id text not null,
    payment_id text,
    payer_account_id text,
    card_last4 text,
    noted_at timestamptz not null
  )`.execute(db);
  await sql`create table payment_event (
    processor text not null,
    event_id text not null,
    event_type text not null,
    received_at timestamptz not null,
    primary key (processor, event_id)
  )`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table payment_event`.execute(db);
  await sql`drop table billing_notice`.execute(db);
}
