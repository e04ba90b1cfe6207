/**
 * The rules of a portal message (DESIGN.md, "Messaging"; the seed's "Sending Messages to Your Provider"), for what a
 * patient or a full-access family member writes: a Communication to the practice, and the Binary files it attaches.
 *
 * - Nothing that looks like a payment card number, in a draft or a sent message: the portal is no place for card
 *   details (the seed: "DO NOT send any credit card information through the patient portal").
 * - Attachments are PDF, JPEG or PNG by their content (the first bytes), whatever their contentType says, at most
 *   10 MB each; inline (`data`) or an uploaded `Binary/{id}` the writer may see. A file whose declared type and
 *   content disagree is refused. (The count, 10, and the declared types are the portal-message profile's rules.)
 * - A message that is sent (any status but 'preparation', a draft) names its subject from the list below
 *   (`topic`) and its recipients: providers the patient has seen (a participant of one of their visits that took
 *   place, or their general practitioner), such a provider's role at an office (PractitionerRole), the practice
 *   itself (the patient's managing Organization), or whoever wrote the message it answers (`inResponseTo`).
 *
 * Staff and system writes are not held to these rules: replies come from the practice, imports from other systems.
 */
import type { Attachment, Binary, Communication, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { invalidResource } from '../../fhir/outcomes';
import { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS } from '../../access/write-policy';
import { notTakingPartText } from '../requests/provider-participation';

/** The code system of a portal message's subject (Communication.topic). */
export const MESSAGE_SUBJECT_SYSTEM = 'https://chartkeeper.example/fhir/CodeSystem/portal-message-subject';

/** The subjects a patient picks from, as the seed's form lists them ("Medical question", "Appointments and scheduling"...). */
export const MESSAGE_SUBJECTS: Readonly<Record<string, string>> = {
  'medical-question': 'Medical question',
  appointments: 'Appointments and scheduling',
  prescription: 'Prescription question',
  'test-results': 'Test results',
  referral: 'Referral question',
  billing: 'Billing question',
  records: 'Medical records request',
  other: 'Other',
};

export { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS };

/** What the rules read of a file: its size and first bytes (its type is judged by them). */
export interface FileFacts {
  readonly size: number;
  readonly head: Uint8Array;
}

/** The file types a portal message may carry, by their first bytes. */
export type FileType = 'application/pdf' | 'image/jpeg' | 'image/png';

/** What the rules need to look up, through the writer's own access (a Binary they cannot see does not exist). */
export interface MessageLookup {
  /** `Practitioner/x`, `PractitionerRole/y` and `Organization/z` references these patients may write to. */
  recipientsFor(patientIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** A Binary the writer may see, by id; undefined when there is none. */
  binary(id: string): Promise<Binary | undefined>;
  /** The size and first bytes of a Binary's content; undefined when it has none. */
  file(binary: Binary): Promise<FileFacts | undefined>;
  /** Whether this Binary is the content of an inline attachment of the message being written (moved on write). */
  movedInline?(id: string): boolean;
  /** The sender of a message the writer may see, by id; undefined when there is none or it names no sender. */
  senderOf(communicationId: string): Promise<string | undefined>;
  /** This service's absolute Binary URL prefix (`https://host/fhir/Binary/`), also accepted in attachment urls. */
  readonly binaryUrl?: string;
  /** Whether a `Practitioner/x` or `PractitionerRole/y` recipient does not take part in the portal (requests/provider-participation.ts). */
  outsidePortal?(reference: string): Promise<boolean>;
}

/**
 * Checks a portal caller's write of `resource` (in the records of `patientIds`); throws a 400 OperationOutcome naming
 * every broken rule and where. Types other than Communication and Binary pass.
 */
export async function checkPortalWrite(resource: Resource, patientIds: readonly string[], lookup: MessageLookup): Promise<void> {
  const issues =
    resource.resourceType === 'Communication'
      ? await messageIssues(resource, patientIds, lookup)
      : resource.resourceType === 'Binary'
        ? fileIssues(await lookup.file(resource), resource.contentType, 'Binary')
        : [];
  if (issues.length) throw invalidResource(issues);
}

async function messageIssues(
  message: Communication,
  patientIds: readonly string[],
  lookup: MessageLookup,
): Promise<OperationOutcomeIssue[]> {
  const issues: OperationOutcomeIssue[] = [];
  for (const [path, text] of textsOf(message, 'Communication')) {
    if (findCardNumber(text)) {
      issues.push(
        issue(
          `${path} looks like it holds a payment card number. Do not send card details through the portal: call the billing office, or pay through the billing page`,
          path,
          'business-rule',
        ),
      );
    }
  }
  for (const [i, payload] of (message.payload ?? []).entries()) {
    if (payload.contentAttachment)
      issues.push(...(await attachmentIssues(payload.contentAttachment, `Communication.payload[${i}].contentAttachment`, lookup)));
    if (payload.contentReference) {
      issues.push(
        issue(
          `Communication.payload[${i}].contentReference is not taken from the portal: attach files as contentAttachment`,
          `Communication.payload[${i}].contentReference`,
        ),
      );
    }
  }
  if (message.status !== 'preparation') {
    issues.push(...subjectIssues(message));
    issues.push(...(await recipientIssues(message, patientIds, lookup)));
  }
  return issues;
}

function subjectIssues(message: Communication): OperationOutcomeIssue[] {
  const codings = message.topic?.coding?.filter((c) => c.system === MESSAGE_SUBJECT_SYSTEM) ?? [];
  if (codings.some((c) => c.code !== undefined && Object.hasOwn(MESSAGE_SUBJECTS, c.code))) return [];
  const listed = Object.entries(MESSAGE_SUBJECTS)
    .map(([code, display]) => `${code} (${display})`)
    .join(', ');
  const given = codings.length ? `"${codings.map((c) => c.code).join('", "')}" is not one of them` : 'none is given';
  return [
    issue(
      `A message names its subject in Communication.topic, a coding of ${MESSAGE_SUBJECT_SYSTEM}: one of ${listed}; ${given}`,
      'Communication.topic',
    ),
  ];
}

async function recipientIssues(
  message: Communication,
  patientIds: readonly string[],
  lookup: MessageLookup,
): Promise<OperationOutcomeIssue[]> {
  const recipients = message.recipient ?? [];
  if (!recipients.length) {
    return [
      issue(
        'A message names its recipient (Communication.recipient): a provider the patient has seen, their office role, or the practice',
        'Communication.recipient',
      ),
    ];
  }
  const allowed = new Set(await lookup.recipientsFor(patientIds));
  for (const answered of message.inResponseTo ?? []) {
    const id = answered.reference?.match(/^Communication\/([A-Za-z0-9\-.]{1,64})$/)?.[1];
    const sender = id ? await lookup.senderOf(id) : undefined;
    if (sender) allowed.add(sender);
  }
  const outside = await Promise.all(
    recipients.map(async (r) => (r.reference && lookup.outsidePortal ? lookup.outsidePortal(r.reference) : false)),
  );
  return recipients.flatMap((recipient, i) =>
    outside[i]
      ? [
          issue(
            notTakingPartText(`Communication.recipient[${i}]`, recipient.reference as string),
            `Communication.recipient[${i}]`,
            'business-rule',
          ),
        ]
      : recipient.reference && allowed.has(recipient.reference)
        ? []
        : [
            issue(
              `Communication.recipient[${i}] (${recipient.reference ?? recipient.display ?? 'no reference'}) is not a provider this patient may write to: ` +
                'choose a provider from their past visits (Practitioner or their PractitionerRole at an office), the practice (Organization), ' +
                'or the author of the message being answered',
              `Communication.recipient[${i}]`,
              'business-rule',
            ),
          ],
  );
}

async function attachmentIssues(attachment: Attachment, at: string, lookup: MessageLookup): Promise<OperationOutcomeIssue[]> {
  if (attachment.data !== undefined && attachment.url !== undefined) {
    return [issue(`${at} gives both data and url: a file is sent inline (data) or as an upload (url Binary/{id}), not both`, `${at}.url`)];
  }
  if (attachment.data !== undefined) return fileIssues(inlineFacts(attachment.data), attachment.contentType, at);
  if (!attachment.url)
    return [issue(`${at} holds no file: give its content (data) or the Binary it was uploaded as (url Binary/{id})`, at)];
  // Exactly Binary/{id} or this service's own .../fhir/Binary/{id}: no other link is stored for staff to open.
  const id = (/^Binary\/([A-Za-z0-9\-.]{1,64})$/.exec(attachment.url) ??
    (lookup.binaryUrl ? new RegExp(`^${escapeRegExp(lookup.binaryUrl)}([A-Za-z0-9\\-.]{1,64})$`).exec(attachment.url) : null))?.[1];
  if (!id)
    return [issue(`${at}.url must name a Binary uploaded to this service (Binary/{id}); files elsewhere are not fetched`, `${at}.url`)];
  const binary = await lookup.binary(id);
  if (!binary) return [issue(`${at}.url names Binary/${id}, which does not exist or which you may not see`, `${at}.url`, 'not-found')];
  // A file sent inline was moved to a Binary before the checks: it is judged, and named, as the attachment it was.
  const inline = lookup.movedInline?.(id) ?? false;
  const declared = inline ? attachment.contentType : binary.contentType;
  const issues = fileIssues(await lookup.file(binary), declared, inline ? at : `${at}.url`, inline ? at : `Binary/${id}`);
  if (!issues.length && attachment.contentType && attachment.contentType !== binary.contentType) {
    issues.push(issue(`${at}.contentType says ${attachment.contentType}, but Binary/${id} is ${binary.contentType}`, `${at}.contentType`));
  }
  return issues;
}

/**
 * The issues of one file (its size and first bytes, declared `contentType`), `what` (at `at`): a PDF, JPEG or PNG of
 * at most 10 MB. (A larger one is refused with a 413 before it is stored; this holds files uploaded by staff.)
 */
function fileIssues(file: FileFacts | undefined, contentType: string | undefined, at: string, what = at): OperationOutcomeIssue[] {
  if (!file?.size) return [issue(`${what} is empty: a portal message's files are PDF, JPEG or PNG`, at)];
  if (file.size > MAX_ATTACHMENT_BYTES) {
    return [issue(`${what} is ${(file.size / 1024 / 1024).toFixed(1)} MB; a file is at most 10 MB`, at, 'too-long')];
  }
  const sniffed = sniffFileType(file.head);
  if (!sniffed)
    return [issue(`${what} is not a PDF, JPEG or PNG file (judged by its content, not its name or type); other files cannot be sent`, at)];
  const declared = contentType?.split(';')[0].trim().toLowerCase();
  if (declared && declared !== sniffed && !(declared === 'image/jpg' && sniffed === 'image/jpeg')) {
    return [issue(`${what} says it is ${contentType}, but its content is ${sniffed}`, at)];
  }
  return [];
}

/** The type of a file by its first bytes (at least 8 needed), or undefined when it is none of the accepted ones. */
export function sniffFileType(head: Uint8Array): FileType | undefined {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);
  if (starts(0x25, 0x50, 0x44, 0x46, 0x2d)) return 'application/pdf'; // %PDF-
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  return undefined;
}

/** Size and first bytes of inline base64 `data`, without decoding all of it. */
function inlineFacts(data: string): FileFacts {
  const text = data.replace(/\s/g, '');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return { size: Math.floor((text.length * 3) / 4) - padding, head: Buffer.from(text.slice(0, 24), 'base64') };
}

/**
 * The first run of digits in `text` that reads as a payment card number: 13 to 19 digits (single spaces or dashes
 * between groups allowed), a major network's prefix (Visa, Mastercard, American Express, Discover, JCB, Diners
 * Club, UnionPay) and a valid Luhn check digit. Phone numbers, dates and record numbers fail one of the three.
 */
export function findCardNumber(text: string): string | undefined {
  // Each run of digit groups (separated by spaces, dashes or dots), and within it every stretch of whole groups
  // of 13-19 digits: a card number followed by its security code, or after another number, is still found. A
  // longer run without separators (an account or tracking number) is no card.
  for (const match of text.matchAll(/\d+(?:[ .-]{1,2}\d+)*/g)) {
    const groups = match[0].split(/[ .-]+/);
    for (let first = 0; first < groups.length; first++) {
      let digits = '';
      for (let last = first; last < groups.length && digits.length + groups[last].length <= 19; last++) {
        digits += groups[last];
        if (digits.length >= 13 && hasCardPrefix(digits) && luhnValid(digits)) return digits;
      }
    }
  }
  return undefined;
}

/** Keys whose values are not what a person wrote: file content, codes, ids, links, stamps. */
const SKIPPED_KEYS: ReadonlySet<string> = new Set(['data', 'code', 'system', 'reference', 'id', 'url', 'meta', 'hash']);

/** Every text of a resource, with its path, leaving out file content (base64 data), codes, ids and links. */
function textsOf(value: unknown, path: string): [string, string][] {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((item, i) => textsOf(item, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => (SKIPPED_KEYS.has(key) ? [] : textsOf(item, `${path}.${key}`)));
  }
  return [];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function hasCardPrefix(digits: string): boolean {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if (digits[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) return n >= 16; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16; // JCB
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305)) return n >= 14; // Diners Club
  if (p2 === 62) return n >= 16; // UnionPay
  return false;
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function issue(text: string, expression: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}
