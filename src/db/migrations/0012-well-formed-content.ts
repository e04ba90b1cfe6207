import { Kysely, sql } from 'kysely';

/**
 * Stored resources whose JSON holds a lone UTF-16 surrogate (`"\ud800"`, issue 24 item 7): JSON.stringify writes one
 * as that escape, which JavaScript reads back but PostgreSQL's jsonb refuses, so every query that read such a resource
 * as jsonb (release and Binary visibility) failed, and with it the exports of the whole record. Writes refuse them
 * now (src/fhir/input-limits.ts); this makes reads robust to what was stored before:
 * - `chartkeeper_jsonb(text)`, the cast queries use: the content as jsonb, and when the cast fails on a lone
 *   surrogate's escape, the same with U+FFFD (the replacement character) in its place;
 * - each stored version that holds one gets it replaced by U+FFFD (what a UTF-8 decoder makes of invalid text).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `create or replace function chartkeeper_jsonb(content text) returns jsonb
    language plpgsql immutable parallel safe as $fn$
    begin
      return content::jsonb;
    exception when invalid_text_representation or untranslatable_character then
      return regexp_replace(content, '\\\\u[dD][89a-fA-F][0-9a-fA-F]{2}', '\\\\ufffd', 'g')::jsonb;
    end
    $fn$`,
    )
    .execute(db);
  for (const table of ['resource', 'resource_history'] as const) {
    const { rows } = await sql<{ resource_type: string; id: string; version: number; content: string }>`
      select resource_type, id, version, content from ${sql.table(table)} where content ~ '\\\\u[dD][89a-fA-F]'`.execute(db);
    for (const row of rows) {
      const repaired = JSON.stringify(
        JSON.parse(row.content, (_key, value: unknown) => (typeof value === 'string' ? toWellFormed(value) : value)),
      );
      if (repaired === row.content) continue; // a `\\ud8..` that is text, not an escape
      const version = table === 'resource_history' ? sql` and version = ${row.version}` : sql``;
      await sql`update ${sql.table(table)} set content = ${repaired}
        where resource_type = ${row.resource_type} and id = ${row.id}${version}`.execute(db);
    }
  }
}

/** The string with each lone surrogate replaced by U+FFFD (String.prototype.toWellFormed, Node 20). */
function toWellFormed(text: string): string {
  return text.toWellFormed();
}

/** Drops the function; repaired text stays repaired (the lone surrogates were never text). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists chartkeeper_jsonb(text)`.execute(db);
}
