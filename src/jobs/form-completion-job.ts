/**
 * "Completing the form completes its Task": when a QuestionnaireResponse is stored `completed`, the write queues a
 * portal_notice row of kind form-completed in its own transaction (src/portal/requests/portal-notice-rules.ts), and
 * this job completes the patient's open form Tasks for that Questionnaire (`focus`), naming the answers as the Task's
 * `output`. Runs every minute, under its advisory lock; answers deleted or changed back from completed before then
 * complete nothing. Each Task it completes is in the patient's activity history, the service as its agent (what it
 * only reads to find them is not).
 */
import type { Questionnaire, QuestionnaireResponse, Task } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../access/access-scope';
import { AuditTrail } from '../fhir/audit/audit-trail';
import { Repository } from '../fhir/repository';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** Rows taken per run. */
const BATCH = 500;

/** The Task statuses of a form still due. */
const OPEN = 'requested,received,accepted,ready,in-progress';

/** Who completes the Tasks in the activity history: the service, on the patient's answers. */
const FORM_COMPLETION_AGENT = { who: { display: 'Chartkeeper (form completion)' }, name: 'Chartkeeper', requestor: false };

/** One Task completed. */
export interface CompletedForm {
  readonly taskId: string;
  readonly responseId: string;
}

/** Completes the Tasks of the forms answered since the last run; undefined when another instance runs the job. */
export async function formCompletionJob(deps: Pick<JobDeps, 'db' | 'clock' | 'baseUrl' | 'logger'>): Promise<CompletedForm[] | undefined> {
  const run = await runUnderAdvisoryLock(deps.db, 'form-completion', async (trx) => {
    const pending = await trx
      .selectFrom('portal_notice')
      .selectAll()
      .where('kind', '=', 'form-completed')
      .orderBy('seq')
      .limit(BATCH)
      .execute();
    const context = { scope: unrestrictedScope('form-completion job'), clock: deps.clock, fhirBase: `${deps.baseUrl}/fhir` };
    const repo = new Repository(trx, context);
    const writer = new Repository(trx, { ...context, audit: new AuditTrail(() => FORM_COMPLETION_AGENT, deps.clock) });
    const completed: CompletedForm[] = [];
    for (const row of pending) {
      const response = await repo.read<QuestionnaireResponse>('QuestionnaireResponse', row.resource_id).catch(() => undefined);
      if (response?.status !== 'completed' || !response.questionnaire) continue;
      for (const focus of await questionnaireReferences(repo, response.questionnaire)) {
        const tasks = await repo.searchResources<Task>('Task', { patient: `Patient/${row.patient_id}`, focus, status: OPEN });
        for (const task of tasks) {
          await writer.update<Task>({
            ...task,
            status: 'completed',
            lastModified: deps.clock.now().toISOString(),
            output: [
              ...(task.output ?? []),
              { type: { text: 'Answers' }, valueReference: { reference: `QuestionnaireResponse/${response.id}` } },
            ],
          });
          completed.push({ taskId: task.id as string, responseId: response.id as string });
        }
      }
    }
    if (pending.length)
      await trx
        .deleteFrom('portal_notice')
        .where(
          'seq',
          'in',
          pending.map((row) => row.seq),
        )
        .execute();
    return completed;
  });
  return run.ran ? run.result : undefined;
}

/** `Questionnaire/{id}` of the form a response answers: by id, or every Questionnaire with its canonical url. */
async function questionnaireReferences(repo: Repository, canonical: string): Promise<string[]> {
  const byId = /^Questionnaire\/([A-Za-z0-9\-.]{1,64})$/.exec(canonical);
  if (byId) return [canonical];
  const [url, version] = canonical.split('|');
  const forms = await repo.searchResources<Questionnaire>('Questionnaire', { url, ...(version ? { version } : {}) });
  return forms.map((q) => `Questionnaire/${q.id}`);
}
