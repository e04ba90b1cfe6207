/**
 * Completing the portal consent form ($accept-portal-consent): the answers are checked against the current version
 * of the form, then a QuestionnaireResponse (the answers) and a Consent (active; the signer, the date and the form
 * version) are written in each record the account stands in, with the `portal_consent` row the consent gate reads,
 * in one transaction. A patient signs in their own record (one per practice); a family member, who has none, signs
 * as their RelatedPerson in each record they hold, so each practice keeps its copy.
 */
import type {
  Consent,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  RelatedPerson,
} from '@medplum/fhirtypes';
import { type AccountContext, systemRepository } from '../../auth/account-context';
import { type Account, isUniqueViolation } from '../../auth/account-store';
import type { Repository } from '../../fhir/repository';
import { ACCOUNT_IDENTIFIER_SYSTEM } from '../../access/proxy-grants';
import { badRequest, conflict } from '../../fhir/outcomes';
import { currentConsentForm } from './portal-consent-form';
import { recordsHeldAsPatient } from './account-records';

const CONSENT_SCOPE = 'http://terminology.hl7.org/CodeSystem/consentscope';
const LOINC = 'http://loinc.org';
/** Consent.category of a completed portal consent form (beside LOINC 59284-0 Patient Consent). */
export const PORTAL_CONSENT_CATEGORY = {
  system: 'https://chartkeeper.example/fhir/CodeSystem/consent-category',
  code: 'portal-consent',
  display: 'Patient portal consent form',
};

/** Most answers and answer length a form's answers may have (the form asks two questions). */
const MAX_ITEMS = 50;
const DEFAULT_MAX_LENGTH = 1000;

/** What completing the form wrote. */
export interface PortalConsentReceipt {
  readonly form: string;
  readonly accepted: string;
  readonly consentIds: readonly string[];
  readonly responseIds: readonly string[];
  /** False when this account had already completed this version (nothing new was written). */
  readonly created: boolean;
}

/** The portal consent form and its completion. */
export class PortalConsentService {
  constructor(private readonly context: AccountContext) {}

  /** Checks `body` (a QuestionnaireResponse answering the current form) and records the account's consent. */
  async accept(account: Account, body: unknown): Promise<PortalConsentReceipt> {
    const system = systemRepository(this.context);
    const form = await currentConsentForm(system);
    if (!form?.url || !form.version) throw conflict('The practice has no portal consent form published: there is nothing to complete');
    const canonical = `${form.url}|${form.version}`;
    const items = readAnswers(form, body, canonical);
    const done = await this.completed(account.id, form.url, form.version, canonical);
    if (done) return done;
    const now = this.context.clock.now().toISOString();
    const signature = answerOf(items, 'signature')?.valueString?.trim();
    try {
      return await this.record(system, account, { canonical, url: form.url, version: form.version, items, now, signature });
    } catch (err) {
      // The same account answering twice at once: the first one's answer stands, the second wrote nothing.
      const first = isUniqueViolation(err) ? await this.completed(account.id, form.url, form.version, canonical) : undefined;
      if (first) return first;
      throw err;
    }
  }

  /** The receipt of a version the account already completed, if it did. */
  private async completed(accountId: string, url: string, version: string, canonical: string): Promise<PortalConsentReceipt | undefined> {
    const done = await this.context.db
      .selectFrom('portal_consent')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('form_url', '=', url)
      .where('form_version', '=', version)
      .executeTakeFirst();
    if (!done) return undefined;
    return {
      form: canonical,
      accepted: new Date(done.accepted_at).toISOString(),
      consentIds: done.consent_ids,
      responseIds: done.response_ids,
      created: false,
    };
  }

  /** Writes the answers, the Consents and the portal_consent row, in one transaction. */
  private async record(
    system: Repository,
    account: Account,
    answer: { canonical: string; url: string; version: string; items: QuestionnaireResponseItem[]; now: string; signature?: string },
  ): Promise<PortalConsentReceipt> {
    const { canonical, items, now, signature } = answer;
    return system.transaction(async (trx) => {
      const signers = await signersOf(trx, account);
      const consentIds: string[] = [];
      const responseIds: string[] = [];
      for (const { patientId, signer } of signers) {
        const { resource: response } = await trx.create<QuestionnaireResponse>({
          resourceType: 'QuestionnaireResponse',
          questionnaire: canonical,
          status: 'completed',
          ...(patientId ? { subject: { reference: `Patient/${patientId}` } } : {}),
          authored: now,
          author: signer,
          source: signer,
          item: items,
        });
        const { resource: consent } = await trx.create<Consent>({
          resourceType: 'Consent',
          status: 'active',
          scope: { coding: [{ system: CONSENT_SCOPE, code: 'patient-privacy', display: 'Privacy Consent' }] },
          category: [{ coding: [{ system: LOINC, code: '59284-0', display: 'Patient Consent' }] }, { coding: [PORTAL_CONSENT_CATEGORY] }],
          ...(patientId ? { patient: { reference: `Patient/${patientId}` } } : {}),
          dateTime: now,
          performer: [{ ...signer, ...(signature ? { display: signature } : {}) }],
          policy: [{ uri: canonical }],
          sourceReference: { reference: `QuestionnaireResponse/${response.id}` },
          provision: { type: 'permit', period: { start: now } },
        });
        consentIds.push(consent.id as string);
        responseIds.push(response.id as string);
      }
      await trx.db
        .insertInto('portal_consent')
        .values({
          account_id: account.id,
          form_url: answer.url,
          form_version: answer.version,
          accepted_at: now,
          consent_ids: consentIds,
          response_ids: responseIds,
        })
        .execute();
      return { form: canonical, accepted: now, consentIds, responseIds, created: true };
    });
  }
}

/** Whom the account signs as, in which record: itself in each record it holds as the patient, else its RelatedPersons. */
async function signersOf(
  repo: Repository,
  account: Account,
): Promise<{ patientId?: string; signer: { reference?: string; display?: string } }[]> {
  const own = await recordsHeldAsPatient(repo.db, account);
  if (own.length) return own.map((patientId) => ({ patientId, signer: { reference: `Patient/${patientId}` } }));
  const people = await repo.searchResources<RelatedPerson>('RelatedPerson', { identifier: `${ACCOUNT_IDENTIFIER_SYSTEM}|${account.id}` });
  const held = people.filter((p) => p.active !== false && /^Patient\//.test(p.patient?.reference ?? ''));
  if (held.length)
    return held.map((p) => ({
      patientId: (p.patient?.reference as string).slice('Patient/'.length),
      signer: { reference: `RelatedPerson/${p.id}` },
    }));
  // Nobody's record yet (a family member before any grant): the consent stands outside every record, in the account's name.
  return [{ signer: { display: account.display_name } }];
}

/**
 * The answers of `body` to `form`, as they will be stored (each item's text from the form): 400 for a body that is no
 * QuestionnaireResponse, an unknown or repeated question, a required question left out, a "no" to a required yes/no
 * question (the consent itself) or an answer of the wrong type; 409 when it answers another version of the form.
 */
export function readAnswers(form: Questionnaire, body: unknown, canonical: string): QuestionnaireResponseItem[] {
  const response = body as QuestionnaireResponse | undefined;
  if (!response || typeof response !== 'object' || response.resourceType !== 'QuestionnaireResponse') {
    throw badRequest(`The body must be a QuestionnaireResponse answering ${canonical}`);
  }
  if (response.questionnaire !== canonical) {
    if (typeof response.questionnaire === 'string' && response.questionnaire.startsWith(`${form.url}|`)) {
      throw conflict(`The portal consent form has changed: version ${form.version} is current. Read it again and answer ${canonical}`);
    }
    throw badRequest(`questionnaire must be "${canonical}" (the form's url and the version read)`, 'QuestionnaireResponse.questionnaire');
  }
  const given = Array.isArray(response.item) ? response.item : [];
  if (given.length > MAX_ITEMS) throw badRequest(`At most ${MAX_ITEMS} answers`, 'QuestionnaireResponse.item');
  const questions = new Map((form.item ?? []).filter((i) => i.type !== 'display' && i.type !== 'group').map((i) => [i.linkId, i]));
  const byLinkId = new Map<string, QuestionnaireResponseItem>();
  given.forEach((item, index) => {
    const where = `QuestionnaireResponse.item[${index}]`;
    if (!item || typeof item.linkId !== 'string' || !questions.has(item.linkId)) {
      throw badRequest(
        `The form has no question "${String(item?.linkId).slice(0, 64)}"; its questions are ${[...questions.keys()].join(', ')}`,
        `${where}.linkId`,
      );
    }
    if (byLinkId.has(item.linkId)) throw badRequest(`"${item.linkId}" is answered twice`, `${where}.linkId`);
    byLinkId.set(item.linkId, item);
  });
  const out: QuestionnaireResponseItem[] = [];
  for (const question of questions.values()) {
    const item = byLinkId.get(question.linkId);
    const answers = Array.isArray(item?.answer) ? item.answer : [];
    if (!answers.length) {
      if (question.required)
        throw badRequest(`Answer "${question.text ?? question.linkId}" (${question.linkId})`, 'QuestionnaireResponse.item');
      continue;
    }
    if (answers.length > 1 && !question.repeats) throw badRequest(`"${question.linkId}" takes one answer`, 'QuestionnaireResponse.item');
    out.push({
      linkId: question.linkId,
      ...(question.text ? { text: question.text } : {}),
      answer: answers.map((a) => checkedAnswer(question, a)),
    });
  }
  return out;
}

function checkedAnswer(question: QuestionnaireItem, answer: unknown): NonNullable<QuestionnaireResponseItem['answer']>[number] {
  const value = answer as { valueBoolean?: unknown; valueString?: unknown };
  switch (question.type) {
    case 'boolean':
      if (typeof value?.valueBoolean !== 'boolean')
        throw badRequest(`"${question.linkId}" is answered with valueBoolean`, 'QuestionnaireResponse.item');
      // A required yes/no question on a consent form is the consent: only "yes" completes the form.
      if (question.required && value.valueBoolean !== true) {
        throw badRequest(
          `The portal cannot be used without agreeing to the consent form: "${question.text ?? question.linkId}" must be answered yes`,
          'QuestionnaireResponse.item',
        );
      }
      return { valueBoolean: value.valueBoolean };
    case 'string':
    case 'text': {
      const text = typeof value?.valueString === 'string' ? value.valueString.trim() : '';
      const max = question.maxLength ?? DEFAULT_MAX_LENGTH;
      if (!text) throw badRequest(`"${question.linkId}" is answered with a valueString that is not empty`, 'QuestionnaireResponse.item');
      if (text.length > max) throw badRequest(`"${question.linkId}" is at most ${max} characters`, 'QuestionnaireResponse.item');
      return { valueString: text };
    }
    default:
      throw badRequest(`The form's question "${question.linkId}" of type ${question.type} cannot be answered here`);
  }
}

function answerOf(
  items: readonly QuestionnaireResponseItem[],
  linkId: string,
): NonNullable<QuestionnaireResponseItem['answer']>[number] | undefined {
  return items.find((i) => i.linkId === linkId)?.answer?.[0];
}
