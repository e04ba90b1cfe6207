/**
 * What the portal message rules (message-rules.ts) look up, read through the writer's scope: the providers a
 * patient has seen, and the Binaries and messages a message points at. Reads here are checks, not served to the
 * caller, so they are not audited.
 */
import type { Binary, Communication, Patient, PractitionerRole } from '@medplum/fhirtypes';
import { type Kysely, sql } from 'kysely';
import type { Tables } from '../../db/tables';
import { storedContentOf } from '../../fhir/binary/binary-content';
import { databaseBinaryStore } from '../../fhir/binary/database-binary-store';
import type { WriteCheck, WriteCheckSession, WriteFiles } from '../../fhir/write-check';
import { checkPortalWrite, type FileFacts, type MessageLookup } from './message-rules';
import { resolveProvider } from '../requests/provider-participation';

/** Visits that took place: a provider on a planned, cancelled or mistaken one has not been seen. */
const NOT_SEEN_STATUSES = ['planned', 'cancelled', 'entered-in-error', 'unknown'];

/** A MessageLookup through a write check's session: the writer's visibility, the transaction's own writes first. */
export function messageLookup(session: WriteCheckSession): MessageLookup {
  const { db, files } = session;
  return {
    binaryUrl: `${session.fhirBase.replace(/\/$/, '')}/Binary/`,
    recipientsFor: (patientIds) => recipientsFor(db, patientIds),
    binary: (id) => session.readVisible<Binary>('Binary', id),
    file: (binary) => fileFacts(db, binary, files),
    movedInline: (id) => files?.movedInline.has(id) ?? false,
    senderOf: async (id) => (await session.readVisible<Communication>('Communication', id))?.sender?.reference,
    outsidePortal: async (reference) => {
      const provider = await resolveProvider({ reference }, (type, id) => session.readVisible(type, id));
      return provider !== undefined && !provider.takesPart;
    },
  };
}

/** The portal's write rules as the repository runs them (RepositoryContext.portalWriteCheck). */
export const portalWriteCheck: WriteCheck = (resource, patientIds, session) =>
  checkPortalWrite(resource, patientIds, messageLookup(session));

/** The size and first bytes of a Binary's content: received with this write, or read from the store. */
async function fileFacts(db: Kysely<Tables>, binary: Binary, files: WriteFiles | undefined): Promise<FileFacts | undefined> {
  const content = storedContentOf(binary);
  if (!content) return undefined;
  const received = files?.received.get(content.sha256);
  if (received) return { size: received.size, head: received.head };
  if (!content.size) return { size: 0, head: Buffer.alloc(0) };
  const head: Buffer[] = [];
  for await (const chunk of (files?.store ?? databaseBinaryStore).read(db, content, { start: 0, end: Math.min(15, content.size - 1) }))
    head.push(chunk);
  return { size: content.size, head: Buffer.concat(head) };
}

/**
 * `Practitioner/x` of everyone on one of these patients' visits that took place and of their general practitioners,
 * `PractitionerRole/y` of those practitioners' roles (a provider at an office), and `Organization/z` of the patients'
 * practices (managingOrganization).
 */
export async function recipientsFor(db: Kysely<Tables>, patientIds: readonly string[]): Promise<ReadonlySet<string>> {
  if (!patientIds.length) return new Set();
  const { rows: participants } = await sql<{ target_type: string | null; target_id: string }>`
    select distinct p.target_type, p.target_id
    from search_reference s
    join search_reference p on p.resource_type = 'Encounter' and p.resource_id = s.resource_id and p.code = 'participant'
    join resource e on e.resource_type = 'Encounter' and e.id = s.resource_id and not e.deleted
    where s.resource_type = 'Encounter' and s.code = 'patient' and s.target_type = 'Patient' and s.target_id = any(${[...patientIds]}::text[])
      and not exists (
        select 1 from search_token t
        where t.resource_type = 'Encounter' and t.resource_id = s.resource_id and t.code = 'status' and t.value = any(${NOT_SEEN_STATUSES}::text[]))`.execute(
    db,
  );
  const { rows: patients } = await sql<{ content: string }>`
    select content from resource where resource_type = 'Patient' and id = any(${[...patientIds]}::text[]) and not deleted`.execute(db);
  const practitioners = new Set<string>();
  const roles = new Set<string>();
  const organizations = new Set<string>();
  const add = (reference: string | undefined): void => {
    const [type, id] = reference?.split('/') ?? [];
    if (type === 'Practitioner') practitioners.add(id);
    else if (type === 'PractitionerRole') roles.add(id);
  };
  for (const row of participants) add(`${row.target_type}/${row.target_id}`);
  for (const row of patients) {
    const patient = JSON.parse(row.content) as Patient;
    for (const gp of patient.generalPractitioner ?? []) add(gp.reference);
    const org = patient.managingOrganization?.reference;
    if (org?.startsWith('Organization/')) organizations.add(org);
  }
  // A role on a visit stands for its practitioner too; and every role of a practitioner seen is theirs to message.
  if (roles.size) {
    const { rows } = await sql<{ target_id: string }>`
      select target_id from search_reference
      where resource_type = 'PractitionerRole' and code = 'practitioner' and resource_id = any(${[...roles]}::text[])`.execute(db);
    for (const row of rows) practitioners.add(row.target_id);
  }
  if (practitioners.size) {
    const { rows } = await sql<{ resource_id: string }>`
      select resource_id from search_reference
      where resource_type = 'PractitionerRole' and code = 'practitioner' and target_id = any(${[...practitioners]}::text[])`.execute(db);
    for (const row of rows) roles.add(row.resource_id);
  }
  // A role counts while it is active and, when the patient has a practice, is at that practice: a provider seen
  // here who also works elsewhere is not reached through their other employer.
  if (roles.size) {
    const { rows } = await sql<{ id: string; content: string }>`
      select id, content from resource where resource_type = 'PractitionerRole' and id = any(${[...roles]}::text[]) and not deleted`.execute(
      db,
    );
    const current = new Map(rows.map((row) => [row.id, JSON.parse(row.content) as PractitionerRole]));
    for (const id of [...roles]) {
      const role = current.get(id);
      const elsewhere =
        organizations.size > 0 && role?.organization?.reference !== undefined && !organizations.has(role.organization.reference);
      if (!role || role.active === false || elsewhere) roles.delete(id);
    }
  }
  return new Set([
    ...[...practitioners].map((id) => `Practitioner/${id}`),
    ...[...roles].map((id) => `PractitionerRole/${id}`),
    ...organizations,
  ]);
}
