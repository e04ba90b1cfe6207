/**
 * The audit pass: access records committed by requests (audit_log) become AuditEvent resources. It runs every
 * second so an activity history is current without anyone asking; reading AuditEvents settles first anyway.
 * Rows are taken with skip locked, so instances running it side by side never turn one row into two events.
 */
import { settleAuditLog } from '../fhir/audit/audit-log';
import type { JobDeps } from './job-deps';

/** Turns every access record committed so far into AuditEvents; answers true (it takes no lock, so it never skips). */
export async function auditPassJob(deps: JobDeps): Promise<true> {
  await settleAuditLog(deps.db);
  return true;
}
