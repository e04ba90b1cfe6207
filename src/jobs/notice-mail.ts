import type { JobDeps } from './job-deps';

/** A notice a job prepared in its transaction: who it goes to, for which patient, and the email itself. */
export interface PreparedNotice {
  readonly to: string;
  readonly patientId: string;
  readonly email: { readonly subject: string; readonly text: string; readonly html: string };
}

/**
 * Sends the notices a job prepared, after its transaction committed, one at a time; one that cannot be sent is
 * logged (`what` names the kind) and the rest still go. Returns the notices sent, without their email.
 */
export async function sendNotices<T extends PreparedNotice>(
  deps: JobDeps,
  notices: readonly T[],
  what: string,
): Promise<Omit<T, 'email'>[]> {
  const sent: Omit<T, 'email'>[] = [];
  for (const { email, ...notice } of notices) {
    try {
      await deps.mailer.send({ to: notice.to, subject: email.subject, text: email.text, html: email.html });
      sent.push(notice);
    } catch (err) {
      deps.logger?.error({ err: { message: (err as Error)?.message }, patientId: notice.patientId }, `${what} not sent`);
    }
  }
  return sent;
}
