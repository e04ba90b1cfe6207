/**
 * A form's answers checked against the form (the seed's "Fill out forms"): a QuestionnaireResponse from the portal is
 * stored only when it answers a Questionnaire that exists and is not retired, and when every answer fits it:
 *
 * - every `linkId` is an item of the Questionnaire, where the Questionnaire has it (a group's items inside the group);
 * - answers have the item's type (a `boolean` item a valueBoolean, a `choice` a valueCoding...), display items and
 *   groups have none, and only an item that `repeats` has several;
 * - a choice with `answerOption`s is one of them (an `open-choice` may also be text), and text is no longer than
 *   `maxLength`;
 * - an item that `enableWhen` disables is not answered, and, once the response is `completed`, every enabled
 *   `required` item is.
 *
 * Each broken rule is one issue naming the item (its linkId) and where it is in the response.
 */
import { getAllQuestionnaireAnswers } from '@medplum/core';
import type {
  OperationOutcomeIssue,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireItemAnswerOption,
  QuestionnaireItemEnableWhen,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
} from '@medplum/fhirtypes';

/** The answer element each item type takes (R4 QuestionnaireResponse.item.answer.value[x]). */
const ANSWER_TYPES: Readonly<Record<string, readonly string[]>> = {
  boolean: ['valueBoolean'],
  decimal: ['valueDecimal'],
  integer: ['valueInteger'],
  date: ['valueDate'],
  dateTime: ['valueDateTime'],
  time: ['valueTime'],
  string: ['valueString'],
  text: ['valueString'],
  url: ['valueUri'],
  choice: ['valueCoding'],
  'open-choice': ['valueCoding', 'valueString'],
  attachment: ['valueAttachment'],
  reference: ['valueReference'],
  quantity: ['valueQuantity'],
};

type Answer = QuestionnaireResponseItemAnswer;
type AnswerValue = Answer[keyof Answer];

/** The issues of `response` against `questionnaire` (empty when it fits). */
export function questionnaireResponseIssues(response: QuestionnaireResponse, questionnaire: Questionnaire): OperationOutcomeIssue[] {
  const answers = getAllQuestionnaireAnswers(response);
  const issues: OperationOutcomeIssue[] = [];
  checkItems(response.item ?? [], questionnaire.item ?? [], 'QuestionnaireResponse', response.status === 'completed', answers, issues);
  return issues;
}

function checkItems(
  given: readonly QuestionnaireResponseItem[],
  defined: readonly QuestionnaireItem[],
  at: string,
  completed: boolean,
  answers: Record<string, Answer[]>,
  issues: OperationOutcomeIssue[],
): void {
  const byLinkId = new Map(defined.map((item) => [item.linkId, item]));
  const seen = new Map<string, number>();
  given.forEach((item, i) => {
    const path = `${at}.item[${i}]`;
    const definition = byLinkId.get(item.linkId);
    if (!definition) {
      issues.push(
        issue(`${path}: linkId "${item.linkId}" is not a question of this form${at === 'QuestionnaireResponse' ? '' : ' here'}`, path),
      );
      return;
    }
    seen.set(item.linkId, (seen.get(item.linkId) ?? 0) + 1);
    if (seen.get(item.linkId) === 2 && !(definition.type === 'group' && definition.repeats)) {
      issues.push(issue(`${path}: "${label(definition)}" (${item.linkId}) is given more than once; it does not repeat`, path));
    }
    const enabled = isEnabled(definition, answers);
    const itemAnswers = item.answer ?? [];
    if (!enabled && (itemAnswers.length || item.item?.length)) {
      issues.push(
        issue(
          `${path}: "${label(definition)}" (${item.linkId}) does not apply given the other answers (enableWhen), so it is not answered`,
          path,
        ),
      );
      return;
    }
    checkAnswers(itemAnswers, definition, path, completed, answers, issues);
    checkItems(item.item ?? [], definition.item ?? [], path, completed, answers, issues);
  });
  if (!completed) return;
  for (const definition of defined) {
    if (!definition.required || seen.has(definition.linkId) || !isEnabled(definition, answers)) continue;
    issues.push(
      issue(`${at}: "${label(definition)}" (${definition.linkId}) is required: answer it before completing the form`, at, 'required'),
    );
  }
}

function checkAnswers(
  given: readonly Answer[],
  definition: QuestionnaireItem,
  path: string,
  completed: boolean,
  answers: Record<string, Answer[]>,
  issues: OperationOutcomeIssue[],
): void {
  const name = `"${label(definition)}" (${definition.linkId})`;
  if (definition.type === 'group' || definition.type === 'display') {
    if (given.length) issues.push(issue(`${path}: ${name} is a ${definition.type}, which takes no answer`, `${path}.answer`));
    return;
  }
  if (given.length > 1 && !definition.repeats)
    issues.push(issue(`${path}: ${name} takes one answer; ${given.length} are given`, `${path}.answer`));
  if (completed && definition.required && !given.length)
    issues.push(issue(`${path}: ${name} is required: answer it before completing the form`, `${path}.answer`, 'required'));
  const allowed = ANSWER_TYPES[definition.type] ?? [];
  given.forEach((answer, j) => {
    const at = `${path}.answer[${j}]`;
    const [key, value] = valueOf(answer);
    const byOption = definition.answerOption?.length ? optionKeys(definition.answerOption) : undefined;
    if (!key || !(allowed.includes(key) || (byOption && byOption.has(key)))) {
      issues.push(
        issue(`${at}: ${name} is a ${definition.type} question; answer it with ${allowed.join(' or ')}${key ? `, not ${key}` : ''}`, at),
      );
      return;
    }
    if (
      byOption &&
      !(definition.type === 'open-choice' && key === 'valueString') &&
      !definition.answerOption!.some((option) => sameValue(optionValue(option), [key, value]))
    ) {
      issues.push(
        issue(
          `${at}: ${name} takes one of its listed answers (${definition.answerOption!.map(optionText).join(', ')}); ${text([key, value])} is not one of them`,
          at,
        ),
      );
    }
    if (key === 'valueString' && definition.maxLength && (value as string).length > definition.maxLength) {
      issues.push(
        issue(`${at}: ${name} is at most ${definition.maxLength} characters; ${(value as string).length} are given`, at, 'too-long'),
      );
    }
    // Nested answers (questions under an answer) are checked against the item's own children.
    if (answer.item?.length) checkItems(answer.item, definition.item ?? [], at, completed, answers, issues);
  });
}

/** Whether an item applies given every answer in the response (R4 enableWhen, enableBehavior all or any). */
function isEnabled(item: QuestionnaireItem, answers: Record<string, Answer[]>): boolean {
  const conditions = item.enableWhen ?? [];
  if (!conditions.length) return true;
  const results = conditions.map((condition) => conditionHolds(condition, answers[condition.question] ?? []));
  return item.enableBehavior === 'all' ? results.every(Boolean) : results.some(Boolean);
}

function conditionHolds(condition: QuestionnaireItemEnableWhen, given: readonly Answer[]): boolean {
  const [key, expected] = valueOf(condition, 'answer');
  if (condition.operator === 'exists') return given.length > 0 === (expected === true);
  if (!key) return false;
  const compare = (answer: Answer): boolean => {
    const actual = valueOf(answer);
    if (condition.operator === '=') return sameValue([key.replace(/^answer/, 'value'), expected], actual);
    if (condition.operator === '!=') return !sameValue([key.replace(/^answer/, 'value'), expected], actual);
    const a = comparable(actual[1]);
    const b = comparable(expected);
    if (a === undefined || b === undefined) return false;
    switch (condition.operator) {
      case '>':
        return a > b;
      case '<':
        return a < b;
      case '>=':
        return a >= b;
      case '<=':
        return a <= b;
      default:
        return false;
    }
  };
  // "!=" holds when no answer equals the value; the others when some answer satisfies them.
  return condition.operator === '!=' ? given.length > 0 && given.every(compare) : given.some(compare);
}

/** The value[x] (or answer[x] of an enableWhen) of an element: its key and value. */
function valueOf(element: Answer, prefix = 'value'): [string | undefined, AnswerValue | undefined] {
  for (const [key, value] of Object.entries(element)) if (key.startsWith(prefix) && value !== undefined) return [key, value as AnswerValue];
  return [undefined, undefined];
}

function optionValue(option: QuestionnaireItemAnswerOption): [string | undefined, AnswerValue | undefined] {
  return valueOf(option);
}

function optionKeys(options: readonly QuestionnaireItemAnswerOption[]): Set<string> {
  return new Set(options.map((o) => optionValue(o)[0]).filter((k): k is string => k !== undefined));
}

function sameValue(
  [keyA, a]: [string | undefined, AnswerValue | undefined],
  [keyB, b]: [string | undefined, AnswerValue | undefined],
): boolean {
  if (keyA !== keyB) return false;
  if (keyA === 'valueCoding') {
    const x = a as { system?: string; code?: string };
    const y = b as { system?: string; code?: string };
    return x.code === y.code && (x.system === undefined || y.system === undefined || x.system === y.system);
  }
  if (keyA === 'valueReference') return (a as { reference?: string }).reference === (b as { reference?: string }).reference;
  return a === b;
}

function comparable(value: AnswerValue | undefined): number | string | undefined {
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'value' in value && typeof value.value === 'number') return value.value;
  return undefined;
}

function optionText(option: QuestionnaireItemAnswerOption): string {
  return text(optionValue(option));
}

function text([key, value]: [string | undefined, AnswerValue | undefined]): string {
  if (key === 'valueCoding') {
    const coding = value as { code?: string; display?: string };
    return coding.display ? `${coding.code} (${coding.display})` : `${coding.code}`;
  }
  return JSON.stringify(value);
}

function label(item: QuestionnaireItem): string {
  return (item.text ?? item.linkId).slice(0, 80);
}

function issue(text: string, expression: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}
