/**
 * The per-request audit trail. The repository notes every resource it serves or writes, with the patients whose
 * compartment holds it; when the outermost repository call (or operation) of the request ends, the trail records
 * one access per patient touched in the audit log (audit-log.ts), which turns them into AuditEvents. Access by the
 * patient to their own record is not recorded (the activity history is about everyone else: family members, staff),
 * except for viewing, downloading and sending the record as a document ($ccda, $docref's on-demand CCD, $transmit,
 * and the vaccination record $immunization-record): ONC 170.315(e)(1) asks for those in the patient's activity history whoever did them, with
 * the addressee of a transmission; and for the patient's own requests (an appointment request, a renewal or change
 * Task, a form's answers, a change of their details): the practice's answer to a request is in the history, so the
 * request it answers is too.
 */
import type { AuditEventAgent } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { Caller } from '../../access/caller';
import type { Tables } from '../../db/tables';
import type { Clock } from '../clock';
import type { AuditInteraction } from '../../access/audit-event';
import { type AuditEntry, appendAudit } from './audit-log';
import type { ServedRecord } from './served-record';
import { isAccountCaller } from '../../access/caller';
import type { PortalScope } from '../../access/portal-scope';

/** One resource the repository served or wrote. */
export interface AccessedResource {
  readonly type: string;
  readonly id: string;
  /** The patients whose compartment holds it. */
  readonly compartments: readonly string[];
}

/**
 * Says who acted in a patient's record; undefined when the caller is that patient and `own` is false (their own
 * access is not recorded, but for the record's view, download and transmit, when `own` is true).
 */
export type AgentFor = (patientId: string, own: boolean) => AuditEventAgent | undefined;

/** Operations recorded even when the patient does them: View, Download, Transmit (ONC 170.315(e)(1)(ii)). */
export const VDT_OPERATIONS: ReadonlySet<string> = new Set(['$ccda', '$docref', '$transmit', '$immunization-record']);

/**
 * Types whose writes are recorded even when the patient makes them: what a patient asks of the practice through the
 * portal (appointment requests, renewal and change-of-details Tasks, form answers, their own details).
 */
export const OWN_RECORDED_WRITES: ReadonlySet<string> = new Set(['Appointment', 'Task', 'QuestionnaireResponse', 'Patient']);

const WRITES: ReadonlySet<AuditInteraction> = new Set(['create', 'update', 'delete']);

/** Collects a request's accesses and writes them as AuditEvents. */
export class AuditTrail {
  private readonly pending = new Map<
    string,
    { patientId: string; interaction: AuditInteraction; operation?: string; recipient?: string; own: boolean; resources: Set<string> }
  >();
  private depth = 0;
  private operation?: string;
  private recipient?: string;

  /**
   * `everyone`: the agent of every access, when it is the same whoever's record it is in and whether the patient's own
   * access would be recorded (staff, operators): a unit's own statement may then record it (recordInStatement).
   */
  constructor(
    private readonly agentFor: AgentFor,
    private readonly clock: Clock,
    private readonly everyone?: AuditEventAgent,
  ) {}

  /**
   * How the unit about to start may record what it serves in its own statement (served-record.ts), instead
   * of noting it for a separate insert: when it is the request's outermost unit and no operation's, nothing is pending,
   * and every patient's record names the same agent. Otherwise undefined, and the unit notes what it serves (record).
   */
  recordInStatement(interaction: AuditInteraction): ServedRecord | undefined {
    if (!this.everyone || this.depth !== 0 || this.pending.size) return undefined;
    return { agent: this.everyone, interaction, recorded: this.clock.now() };
  }

  /** Notes resources served or written by one interaction. */
  record(interaction: AuditInteraction, resources: readonly AccessedResource[]): void {
    // Inside an operation every access is part of it: one event per patient says "$everything", not each query.
    const kind: AuditInteraction = this.operation ? 'operation' : interaction;
    for (const resource of resources) {
      const own = this.recordsOwn() || (WRITES.has(kind) && OWN_RECORDED_WRITES.has(resource.type));
      for (const patientId of resource.compartments) {
        if (!this.agentFor(patientId, own)) continue;
        const key = `${patientId}\u0000${kind}`;
        let entry = this.pending.get(key);
        if (!entry) {
          entry = {
            patientId,
            interaction: kind,
            ...(this.operation ? { operation: this.operation } : {}),
            ...(this.recipient ? { recipient: this.recipient } : {}),
            own,
            resources: new Set(),
          };
          this.pending.set(key, entry);
        } else if (own) {
          entry.own = true;
        }
        entry.resources.add(`${resource.type}/${resource.id}`);
      }
    }
  }

  /**
   * Runs one unit of work (a repository call, or a whole $operation when `operation` is given); when the
   * outermost unit ends, what it noted is written through `db` (the caller's transaction, if any).
   */
  async unit<T>(db: Kysely<Tables>, fn: () => Promise<T>, operation?: string, recipient?: string): Promise<T> {
    const outer = this.depth === 0;
    this.depth++;
    if (outer && operation) this.operation = operation;
    if (outer && recipient) this.recipient = recipient;
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      // What was served before the failure was still seen; but a failed transaction cannot take the write, and
      // the original error is the one the client must get.
      if (outer) await this.flush(db).catch(() => undefined);
      throw err;
    } finally {
      this.depth--;
      if (outer) this.operation = this.recipient = undefined;
    }
    if (outer) await this.flush(db);
    return result;
  }

  /** The agent recorded for access to `patientId`'s record by someone else. */
  agentOf(patientId: string): AuditEventAgent | undefined {
    return this.agentFor(patientId, false);
  }

  /** Whether the unit running now records the patient's own access too (a VDT operation). */
  private recordsOwn(): boolean {
    return this.operation !== undefined && VDT_OPERATIONS.has(this.operation);
  }

  /**
   * Records what is pending through `db` (see audit-log.ts: durably, before the request is answered; the
   * AuditEvents follow). Settles once the records are committed.
   */
  async flush(db: Kysely<Tables>): Promise<void> {
    if (!this.pending.size) return;
    const recorded = this.clock.now();
    const entries: AuditEntry[] = [...this.pending.values()].map((entry) => ({
      patientId: entry.patientId,
      agent: this.agentFor(entry.patientId, entry.own) as AuditEventAgent,
      interaction: entry.interaction,
      operation: entry.operation,
      recipient: entry.recipient,
      resources: [...entry.resources],
      recorded,
    }));
    this.pending.clear();
    await appendAudit(db, entries);
  }
}

/**
 * The audit trail of a request by `caller`, or undefined when nothing it does is recorded (system jobs).
 * Family members are named by their RelatedPerson in the patient's record, staff by their Practitioner, the CLI
 * operator by the token's subject; the account id travels as altId.
 */
export function auditTrailFor(caller: Caller, clock: Clock): AuditTrail | undefined {
  if (caller.kind === 'system') return undefined;
  if (!isAccountCaller(caller)) {
    const who = /^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(caller.subject) ? { reference: caller.subject } : { display: caller.subject };
    const agent: AuditEventAgent = { who, name: `Operator (${caller.subject})`, requestor: true };
    return new AuditTrail(() => agent, clock, agent);
  }
  const { account } = caller;
  if (caller.kind === 'staff') {
    const who = account.practitioner_id
      ? { reference: `Practitioner/${account.practitioner_id}`, display: account.display_name }
      : { display: account.display_name };
    const agent: AuditEventAgent = { who, altId: account.id, name: account.display_name, requestor: true };
    return new AuditTrail(() => agent, clock, agent);
  }
  const access = (caller.scope as PortalScope).access;
  return new AuditTrail((patientId, own) => {
    if (account.patient_id === patientId && !own) return undefined;
    const held = access?.get(patientId);
    const who = held?.relatedPersonId
      ? { reference: `RelatedPerson/${held.relatedPersonId}`, display: account.display_name }
      : account.patient_id
        ? { reference: `Patient/${account.patient_id}`, display: account.display_name }
        : { display: account.display_name };
    return { who, altId: account.id, name: account.display_name, requestor: true };
  }, clock);
}

/**
 * The agent that audit records name for a staff member, backend service or operator, whichever patient they act on
 * (work done later on their behalf, as an export, records it); undefined for the service itself and portal callers.
 */
export function requestorAgent(caller: Caller, clock: Clock): AuditEventAgent | undefined {
  // Staff, services and the operator are named alike whoever's record they act on.
  return caller.kind === 'staff' ? auditTrailFor(caller, clock)?.agentOf('') : undefined;
}
