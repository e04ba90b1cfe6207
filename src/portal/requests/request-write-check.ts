/**
 * The portal requests' rules as the repository runs them: what a portal caller may ask (appointment requests), and
 * how anyone, staff included, may answer an open request. Each broken rule is one issue of a 400; nothing is written.
 */
import type { Appointment, OperationOutcomeIssue, Questionnaire, QuestionnaireResponse, Resource, Task } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { invalidResource } from '../../fhir/outcomes';
import type { WriteCheck, WriteCheckSession } from '../../fhir/write-check';
import { questionnaireResponseIssues } from './questionnaire-response-rules';
import { renewalAnswerIssues, renewalRequestIssues } from './renewal-request-rules';
import { isProfileChange, patientUpdateIssues, profileChangeAnswerIssues, profileChangeRequestIssues } from './profile-change-rules';
import { appointmentAnswerIssues, appointmentRequestIssues } from './appointment-request-rules';

/** A portal caller's request (RepositoryContext.portalWriteCheck, with the message rules). */
export const portalRequestCheck: WriteCheck = async (resource, patientIds, session) => {
  const issues =
    resource.resourceType === 'Appointment'
      ? await appointmentRequestIssues(resource, patientIds, session)
      : resource.resourceType === 'QuestionnaireResponse'
        ? await formAnswerIssues(resource, session)
        : resource.resourceType === 'Task'
          ? !session.replaced && isProfileChange(resource)
            ? profileChangeRequestIssues(resource, patientIds, session)
            : await renewalRequestIssues(resource, patientIds, session)
          : resource.resourceType === 'Patient'
            ? patientUpdateIssues(resource, session)
            : [];
  if (issues.length) throw invalidResource(issues);
};

/** A form's answers: to a Questionnaire that exists and is not retired, and fitting it (questionnaire-response-rules.ts). */
async function formAnswerIssues(response: QuestionnaireResponse, session: WriteCheckSession): Promise<OperationOutcomeIssue[]> {
  const canonical = response.questionnaire;
  const at = 'QuestionnaireResponse.questionnaire';
  if (!canonical) return [formIssue("A form's answers name the form they answer (questionnaire: Questionnaire/{id} or its url)", at)];
  const questionnaire = await findQuestionnaire(canonical, session);
  if (!questionnaire)
    return [formIssue(`questionnaire names ${canonical.slice(0, 200)}, which is no form of this practice`, at, 'not-found')];
  if (questionnaire.status === 'retired')
    return [
      formIssue(
        `The form ${questionnaire.title ?? questionnaire.name ?? questionnaire.id} is retired and takes no more answers`,
        at,
        'business-rule',
      ),
    ];
  return questionnaireResponseIssues(response, questionnaire);
}

/** A Questionnaire by `Questionnaire/{id}` or by its canonical url (a `|version` picks that version). */
async function findQuestionnaire(canonical: string, session: WriteCheckSession): Promise<Questionnaire | undefined> {
  const byId = /^(?:.*\/)?Questionnaire\/([A-Za-z0-9\-.]{1,64})$/.exec(canonical);
  if (byId && (!canonical.includes('://') || canonical.startsWith(session.fhirBase)))
    return session.readVisible<Questionnaire>('Questionnaire', byId[1]);
  const [url, version] = canonical.split('|');
  const { rows } = await sql<{ content: string }>`
    select r.content from resource r join search_token t on t.resource_type = r.resource_type and t.resource_id = r.id
    where r.resource_type = 'Questionnaire' and not r.deleted and t.code = 'url' and t.value = ${url}
    order by r.last_updated desc limit 20`.execute(session.db);
  const found = rows.map((row) => JSON.parse(row.content) as Questionnaire);
  return version ? found.find((q) => q.version === version) : found[0];
}

function formIssue(text: string, expression: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}

/** Answers to open requests, from whoever writes them (RepositoryContext.writeCheck); the portal's own are checked above. */
export const requestAnswerCheck: WriteCheck = async (resource: Resource, _patientIds, session) => {
  if (session.scope.portalRules) return;
  const issues =
    resource.resourceType === 'Appointment'
      ? appointmentAnswerIssues(resource, session.replaced as Appointment | undefined)
      : resource.resourceType === 'Task'
        ? [...renewalAnswerIssues(resource, session.replaced as Task | undefined), ...(await profileChangeAnswerIssues(resource, session))]
        : [];
  if (issues.length) throw invalidResource(issues);
};
