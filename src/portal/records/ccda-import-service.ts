import { createHash, randomUUID } from 'node:crypto';
import type {
  Binary,
  Bundle,
  BundleEntry,
  DocumentReference,
  Identifier,
  Patient,
  Provenance,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { processBundle, rewriteReferences, UNCHANGED } from '../../fhir/bundle-processor';
import type { ReceivedContent } from '../../fhir/binary/binary-store';
import { contentOf } from '../../fhir/binary/content-receiver';
import { searchParametersOf } from '../../fhir/definitions';
import { badRequest, FhirError, serviceUnavailable } from '../../fhir/outcomes';
import type { Repository } from '../../fhir/repository';
import { CcdaParseError } from '../../ccda/parse';
import type { CcdaImportResult } from '../../ccda/parse';
import { dropFailedUsCoreClaims } from './ccda-us-core-claims';
import { parseCcdaOffThread, ParseWorkerLost } from './parse-ccda-off-thread';
import { ownOriginOf } from './own-resource-id';
import { matchPatient, PatientMatch } from './patient-match';
import { takeOutValue, unstorableValueOf } from './unstorable-value';

/** What one import did, as the API and the CLI report it. */
export interface CcdaImportSummary {
  readonly patient: { readonly reference: string; readonly match: 'identifier' | 'demographics' | 'created'; readonly by?: string };
  readonly document: {
    readonly kind: string;
    readonly release: string;
    readonly title?: string;
    readonly alreadyImported: boolean;
    readonly reference?: string;
  };
  /** Resources created, updated (restated with changes) and unchanged, by type. */
  readonly created: Record<string, number>;
  readonly updated: Record<string, number>;
  readonly unchanged: Record<string, number>;
  readonly warnings: string[];
}

/** Identifies an imported original by the SHA-256 of its bytes. */
const DIGEST_SYSTEM = 'urn:chartkeeper:document-sha256';
const FORMAT_SYSTEM = 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode';
const FORMAT_BY_RELEASE: Record<string, string> = {
  'R2.1': 'urn:hl7-org:sdwg:ccda-structuredBody:2.1',
  'R2.0': 'urn:hl7-org:sdwg:ccda-structuredBody:2.0',
  'R1.1': 'urn:hl7-org:sdwg:ccda-structuredBody:1.1',
};

/**
 * Takes in one C-CDA document as FHIR, in one transaction: the patient (matched, see patient-match.ts,
 * or created), every section's resources (restated entries update by their CDA ids, new ones are
 * added, identical ones change nothing), the original document as a DocumentReference + Binary, and
 * a Provenance naming everything created or changed. Importing the same document twice creates nothing.
 */
export async function importCcda(
  repo: Repository,
  xml: string | Buffer,
  options: { maxBytes?: number; parseHeapMb?: number } = {},
): Promise<CcdaImportSummary> {
  const parsed = await parseOrThrow(xml, options.maxBytes, options.parseHeapMb);
  const repaired: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const sent: BundleEntry[] = [];
    try {
      return await importParsed(repo, xml, parsed, sent, repaired);
    } catch (err) {
      // A US Core profile a resource turned out not to meet as stored is a claim taken back (a new transaction).
      if (err instanceof FhirError && err.status === 400 && attempt < MAX_REPAIRS && dropFailedUsCoreClaims(err, sent, parsed)) continue;
      // One value the store refuses never fails the document: take it out and import the rest (a new transaction;
      // the refused one wrote nothing). Bounded, so a document the parser maps badly still fails, and says why.
      const value =
        err instanceof FhirError && err.status === 400 && attempt < MAX_REPAIRS ? unstorableValueOf(err.outcome, sent) : undefined;
      const entry = value ? parsed.bundle.entry.find((e) => e.fullUrl === value.fullUrl) : undefined;
      const warning = value && entry ? takeOutValue(entry.resource as unknown as Record<string, unknown>, value) : undefined;
      if (!warning) throw err;
      repaired.push(warning);
    }
  }
}

/** How many refused values one document may have taken out before its import fails after all. */
const MAX_REPAIRS = 20;

async function importParsed(
  repo: Repository,
  xml: string | Buffer,
  parsed: CcdaImportResult,
  sent: BundleEntry[],
  repaired: string[],
): Promise<CcdaImportSummary> {
  return repo.transaction(async (trx) => {
    const patientEntry = parsed.bundle.entry.find((e) => e.fullUrl === parsed.patientFullUrl);
    if (!patientEntry || !identifiesSomeone(patientEntry.resource as Patient)) {
      throw badRequest(
        'The document names no patient: it needs a recordTarget/patientRole with an id or a name',
        'ClinicalDocument.recordTarget',
      );
    }
    const match = await matchPatient(trx, patientEntry.resource as Patient);
    const warnings: string[] = [...repaired];
    shortenLongNarratives(parsed, warnings);
    let entries = entriesFor(parsed, match, trx.context.scope.organizationId);
    if (match.kind !== 'none') {
      const own = await withoutOwnEntries(trx, entries, match.patient.id as string);
      entries = own.entries;
      if (own.kept) warnings.push(`${own.kept} entries are this service's own resources, already in the record: left as they are`);
    }
    const patientRef = match.kind === 'none' ? parsed.patientFullUrl : `Patient/${match.patient.id}`;
    const digest = createHash('sha256').update(xml).digest('hex');
    const existingDoc = match.kind === 'none' ? undefined : await storedOriginal(trx, digest, patientRef);
    const original = existingDoc ? undefined : originalDocument(parsed, xml, patientRef, digest);
    if (original) entries.push(original.entry);
    sent.splice(0, sent.length, ...entries);
    const response = await processBundle(
      trx,
      { resourceType: 'Bundle', type: 'transaction', entry: entries },
      { ambiguousUpdate: 'create', warnings, preparation: trx.context.preparation },
    );
    const summary = summarize(parsed, match, entries, response, existingDoc, warnings);
    if (original) {
      // The original's bytes go to the store as they came (no base64), in the record of the patient just resolved.
      await trx.update<Binary>(
        {
          resourceType: 'Binary',
          id: original.binaryId,
          contentType: 'application/xml',
          securityContext: { reference: summary.patient.reference },
        },
        { content: original.content },
      );
      summary.created.Binary = (summary.created.Binary ?? 0) + 1;
    }
    const changed = (response.entry ?? [])
      .filter(
        (e) =>
          e.response?.status?.startsWith('201') ||
          (e.response?.status?.startsWith('200') && e.response.outcome !== UNCHANGED && e.resource),
      )
      .map((e) => e.resource as Resource)
      .filter((r) => r && r.resourceType !== 'Binary');
    if (changed.length) await trx.create<Provenance>(provenanceFor(changed, summary, trx.context.clock.now()));
    return summary;
  });
}

/** FHIR's limit for a string (https://hl7.org/fhir/R4/datatypes.html#string), which a section's XHTML is held to. */
const MAX_NARRATIVE_CHARS = 1024 * 1024;

/**
 * A section whose narrative is longer than a FHIR string may be (a long transcribed note, a whole report pasted in)
 * keeps a short XHTML pointing at the original instead, and the import says so: the original document, kept byte for
 * byte with the import, holds every word.
 */
function shortenLongNarratives(parsed: CcdaImportResult, warnings: string[]): void {
  for (const entry of parsed.bundle.entry) {
    if (entry.resource?.resourceType !== 'Composition') continue;
    for (const section of entry.resource.section ?? []) {
      const div = section.text?.div;
      if (!div || div.length <= MAX_NARRATIVE_CHARS) continue;
      const size = `${(Buffer.byteLength(div, 'utf8') / 1024 / 1024).toFixed(1)} MB`;
      section.text = {
        status: 'generated',
        div: `<div xmlns="http://www.w3.org/1999/xhtml">This section's narrative (${size}) is longer than a FHIR text may be; it is in the original document kept with this import.</div>`,
      };
      warnings.push(`${section.title ?? 'A section'}: its narrative (${size}) is kept in the original document only`);
    }
  }
}

/** A document's patient can be matched or stored only if it has an identifier or a name. */
function identifiesSomeone(patient: Patient): boolean {
  return Boolean(patient.identifier?.some((i) => i.value) || patient.name?.some((n) => n.family || n.given?.length || n.text));
}

/**
 * Parses the document on the parse worker (parse-ccda-off-thread.ts); a CcdaParseError is the client's 400/413, a
 * worker lost twice through no fault of the document a 503 (with Retry-After) to send it again.
 */
async function parseOrThrow(xml: string | Buffer, maxBytes?: number, heapMb?: number): Promise<CcdaImportResult> {
  try {
    return await parseCcdaOffThread(xml, maxBytes, heapMb);
  } catch (err) {
    if (err instanceof ParseWorkerLost) throw serviceUnavailable(err.message);
    if (err instanceof CcdaParseError) {
      const status = err.code === 'too-large' ? 413 : 400;
      throw new FhirError(status, {
        resourceType: 'OperationOutcome',
        // The message already names the line and column when there is one (CcdaParseError).
        issue: [
          {
            severity: 'error',
            code: status === 413 ? 'too-long' : 'structure',
            details: { text: err.message },
            ...(err.line > 0 ? { expression: [`line ${err.line}, column ${err.column}`] } : {}),
          },
        ],
      });
    }
    throw err;
  }
}

/** Shared resources that documents often name without an identifier; deduplicated by their content. */
const SHARED_WITHOUT_ID = new Set(['Organization', 'Location', 'Practitioner', 'Device']);
const CONTENT_KEY_SYSTEM = 'urn:chartkeeper:ccda-content-key';

/**
 * An Organization, Location, Practitioner or Device without an identifier gets one derived from all it
 * says, so importing documents that name it again finds it instead of adding a copy.
 */
function withContentKey(entry: BundleEntry): BundleEntry {
  const resource = entry.resource as Resource & { identifier?: Identifier[] };
  if (!SHARED_WITHOUT_ID.has(resource.resourceType) || resource.identifier?.some((i) => i.value) || entry.request?.ifNoneExist)
    return entry;
  const { identifier: _none, ...content } = resource;
  const key = createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 32);
  const identifier = { system: CONTENT_KEY_SYSTEM, value: key };
  return {
    ...entry,
    resource: { ...resource, identifier: [...(resource.identifier ?? []), identifier] } as Resource,
    request: { method: 'POST', url: resource.resourceType, ifNoneExist: `identifier=${CONTENT_KEY_SYSTEM}|${key}` },
  };
}

/**
 * A restated entry is the stored resource that carries all of its CDA ids (search parameters AND),
 * not just the first: vendors reuse a first id across entries that differ in the others.
 */
function withAllIdentifiers(entry: BundleEntry): BundleEntry {
  const raw = (entry.resource as { identifier?: Identifier | Identifier[] }).identifier;
  const ids = (Array.isArray(raw) ? raw : raw ? [raw] : []).filter((i) => i.value);
  if (entry.request?.method !== 'PUT' || !entry.request.url?.includes('?') || ids.length < 2) return entry;
  const query = ids.map((i) => `identifier=${i.system ? `${encodeURIComponent(i.system)}|` : ''}${encodeURIComponent(i.value!)}`).join('&');
  return { ...entry, request: { ...entry.request, url: `${entry.resource!.resourceType}?${query}` } };
}

/**
 * The parser's entries, adjusted to the patient match: a matched patient is referenced, not re-created. A patient
 * created by staff of an organisation is that organisation's patient (their managingOrganization), as staff may only
 * add patients to their own organisation.
 */
function entriesFor(parsed: CcdaImportResult, match: PatientMatch, organizationId?: string): BundleEntry[] {
  const entries: BundleEntry[] = parsed.bundle.entry.map((e) =>
    withAllIdentifiers(withContentKey({ fullUrl: e.fullUrl, resource: e.resource, request: { ...e.request } })),
  );
  if (match.kind === 'none') {
    for (const entry of entries) {
      if (entry.fullUrl === parsed.patientFullUrl) {
        entry.request = { method: 'POST', url: 'Patient' };
        if (organizationId)
          entry.resource = { ...(entry.resource as Patient), managingOrganization: { reference: `Organization/${organizationId}` } };
      }
      // A new patient owns nothing yet: a conditional update could only ever match another patient's data.
      else if (entry.request?.method === 'PUT' && entry.request.url?.includes('?') && hasPatientParam(entry.resource!.resourceType)) {
        entry.request = { method: 'POST', url: entry.resource!.resourceType };
      }
    }
    return entries;
  }
  const patientRef = `Patient/${match.patient.id}`;
  const rewritten = rewriteReferences(
    entries.filter((e) => e.fullUrl !== parsed.patientFullUrl),
    new Map([[parsed.patientFullUrl, patientRef]]),
  );
  for (const entry of rewritten) {
    // Restated entries are found by their CDA id within this patient's record only.
    if (entry.request?.method === 'PUT' && entry.request.url?.includes('?') && hasPatientParam(entry.resource!.resourceType)) {
      entry.request = { ...entry.request, url: `${entry.request.url}&patient=${encodeURIComponent(patientRef)}` };
    }
  }
  return rewritten;
}

/**
 * A document Chartkeeper wrote (sent back by another system, or downloaded and imported again) names the patient's
 * resources by our own ids. Those still in this patient's record (or shared, like a Practitioner) are the originals:
 * they stay as they are, neither copied nor restated from their CDA rendering (which says less). An entry of the
 * original's type is replaced by it (the document's other entries point at the original); one the import maps to
 * another type (a MedicationRequest read back as a MedicationStatement, a vital sign's components) is dropped when
 * nothing else in the document points at it.
 */
async function withoutOwnEntries(
  repo: Repository,
  entries: BundleEntry[],
  patientId: string,
): Promise<{ entries: BundleEntry[]; kept: number }> {
  const origins = new Map<string, string>();
  for (const entry of entries) {
    const origin = ownOriginOf(entry.resource);
    if (origin && entry.fullUrl) origins.set(entry.fullUrl, origin);
  }
  if (!origins.size) return { entries, kept: 0 };
  const inRecord = await repo.visibleInRecord([...new Set(origins.values())], patientId);
  const originals = new Map<string, string>();
  const renderings = new Map<string, string>();
  const software = new Set<string>();
  for (const entry of entries) {
    const origin = entry.fullUrl ? origins.get(entry.fullUrl) : undefined;
    if (origin === OWN_SOFTWARE) software.add(entry.fullUrl!);
    if (!origin || !inRecord.has(origin)) continue;
    (origin.startsWith(`${entry.resource!.resourceType}/`) ? originals : renderings).set(entry.fullUrl!, origin);
  }
  for (const [fullUrl, origin] of aggregatesOfOwn(entries, originals, renderings)) renderings.set(fullUrl, origin);
  if (!originals.size && !renderings.size) return { entries, kept: 0 };
  // The software that wrote the document is not a Device of the record: what it authored is the practice's.
  const custodian = entries.find((e) => e.resource?.resourceType === 'Composition')?.resource as { custodian?: Reference } | undefined;
  const authorTarget = custodian?.custodian?.reference
    ? (originals.get(custodian.custodian.reference) ?? custodian.custodian.reference)
    : undefined;
  const rest = rewriteReferences(
    entries.filter((e) => !e.fullUrl || (!originals.has(e.fullUrl) && !(authorTarget && software.has(e.fullUrl)))),
    new Map([...originals, ...(authorTarget ? [...software].map((s) => [s, authorTarget] as const) : [])]),
  );
  // A rendering a typed reference still points at stays (it must resolve, and to its type), unless what points at it
  // goes too (a plan's activities, pointed at only by the CarePlan the import makes of the plan section); the
  // document's own Composition lists entries of any type, so there it becomes the original.
  const referrers = rest
    .filter((e) => e.resource?.resourceType !== 'Composition')
    .map((e) => [e.fullUrl, JSON.stringify(e.resource)] as const);
  const dropped = new Map(renderings);
  for (let changed = true; changed;) {
    changed = false;
    for (const fullUrl of [...dropped.keys()]) {
      const pointedAt = referrers.some(([from, text]) => from !== fullUrl && !(from && dropped.has(from)) && text.includes(`"${fullUrl}"`));
      if (pointedAt) {
        dropped.delete(fullUrl);
        changed = true;
      }
    }
  }
  const kept = rest
    .filter((e) => !e.fullUrl || !dropped.has(e.fullUrl))
    .map((e) => (e.resource?.resourceType === 'Composition' ? rewriteReferences(e, dropped) : e));
  return { entries: kept, kept: originals.size + dropped.size };
}

/** The id our renderer gives the software that authors a document with no person as author (ccd-header.ts). */
const OWN_SOFTWARE = 'Device/chartkeeper';

/**
 * Resources the import makes of a section rather than of an entry (the CarePlan of a plan of treatment) whose every
 * part is one of our own entries: a rendering too, of the CarePlan the parts came from (else of the first part).
 */
function aggregatesOfOwn(entries: BundleEntry[], originals: Map<string, string>, renderings: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    if (entry.resource?.resourceType !== 'CarePlan' || !entry.fullUrl || originals.has(entry.fullUrl) || renderings.has(entry.fullUrl))
      continue;
    const parts = (entry.resource.activity ?? []).map((a) => a.reference?.reference);
    const origins = parts.map((p) => (p ? (originals.get(p) ?? renderings.get(p)) : undefined));
    if (!origins.length || origins.some((o) => !o)) continue;
    out.set(entry.fullUrl, origins.find((o) => o!.startsWith('CarePlan/')) ?? origins[0]!);
  }
  return out;
}

function hasPatientParam(type: string): boolean {
  return searchParametersOf(type).patient?.type === 'reference';
}

/** The same bytes imported before for this patient (documents' own ids are too often reused to trust). */
async function storedOriginal(repo: Repository, digest: string, patientRef: string): Promise<DocumentReference | undefined> {
  const found = await repo.searchResources<DocumentReference>('DocumentReference', {
    identifier: `${DIGEST_SYSTEM}|${digest}`,
    patient: patientRef,
  });
  return found[0];
}

/**
 * The DocumentReference of the original document, and its bytes for the Binary it points at (written once the
 * patient is known, under the id chosen here).
 */
function originalDocument(
  parsed: CcdaImportResult,
  xml: string | Buffer,
  patientRef: string,
  digest: string,
): { entry: BundleEntry; binaryId: string; content: ReceivedContent } {
  const binaryId = randomUUID();
  const content = contentOf(Buffer.isBuffer(xml) ? xml : Buffer.from(xml, 'utf8'), { sha1: true });
  const doc = parsed.document;
  const reference: DocumentReference = {
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'final',
    ...(doc.id?.value ? { masterIdentifier: doc.id } : {}),
    identifier: [{ system: DIGEST_SYSTEM, value: digest }, ...(doc.setId?.value ? [doc.setId] : [])],
    type: doc.typeCode
      ? { coding: [{ system: 'http://loinc.org', code: doc.typeCode, display: doc.typeDisplay }] }
      : { text: doc.title ?? 'Clinical document' },
    category: [
      {
        coding: [
          {
            system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category',
            code: 'clinical-note',
            display: 'Clinical Note',
          },
        ],
      },
    ],
    subject: { reference: patientRef },
    ...(doc.effectiveTime && doc.effectiveTime.length > 10 ? { date: doc.effectiveTime } : {}),
    description: doc.title ?? 'Imported C-CDA document',
    content: [
      {
        attachment: {
          contentType: 'application/xml',
          url: `Binary/${binaryId}`,
          size: content.size,
          hash: content.sha1,
          title: doc.title ?? 'C-CDA document',
        },
        ...(FORMAT_BY_RELEASE[doc.release] ? { format: { system: FORMAT_SYSTEM, code: FORMAT_BY_RELEASE[doc.release] } } : {}),
      },
    ],
  };
  return {
    entry: { fullUrl: 'urn:uuid:' + randomUUID(), resource: reference, request: { method: 'POST', url: 'DocumentReference' } },
    binaryId,
    content,
  };
}

function summarize(
  parsed: CcdaImportResult,
  match: PatientMatch,
  sent: BundleEntry[],
  response: Bundle,
  existingDoc: DocumentReference | undefined,
  storeWarnings: string[],
): CcdaImportSummary {
  const created: Record<string, number> = {};
  const updated: Record<string, number> = {};
  const unchanged: Record<string, number> = {};
  let patientReference = match.kind === 'none' ? '' : `Patient/${match.patient.id}`;
  let documentReference = existingDoc ? `DocumentReference/${existingDoc.id}` : undefined;
  (response.entry ?? []).forEach((entry, i) => {
    const type = sent[i].resource?.resourceType ?? 'Resource';
    const status = entry.response?.status ?? '';
    const tally = status.startsWith('201') ? created : entry.response?.outcome === UNCHANGED || !entry.resource ? unchanged : updated;
    tally[type] = (tally[type] ?? 0) + 1;
    if (sent[i].fullUrl === parsed.patientFullUrl && entry.resource) patientReference = `Patient/${entry.resource.id}`;
    if (type === 'DocumentReference' && sent[i].request?.url === 'DocumentReference' && entry.resource && !documentReference) {
      documentReference = `DocumentReference/${entry.resource.id}`;
    }
  });
  return {
    patient: {
      reference: patientReference,
      match: match.kind === 'none' ? 'created' : match.kind,
      ...(match.kind === 'demographics' ? { by: match.by } : {}),
    },
    document: {
      kind: parsed.document.kind,
      release: parsed.document.release,
      title: parsed.document.title,
      alreadyImported: !!existingDoc,
      reference: documentReference,
    },
    created,
    updated,
    unchanged,
    warnings: [...parsed.warnings.map((w) => (w.section ? `${w.section}: ${w.message}` : w.message)), ...storeWarnings],
  };
}

/** The import's Provenance; it names the patient among its targets, which puts it in that patient's record. */
function provenanceFor(changed: Resource[], summary: CcdaImportSummary, now: Date): Provenance {
  const target: Reference[] = changed.map((r) => ({ reference: `${r.resourceType}/${r.id}` }));
  if (!target.some((t) => t.reference === summary.patient.reference)) target.push({ reference: summary.patient.reference });
  return {
    resourceType: 'Provenance',
    target,
    recorded: now.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' }] },
    agent: [
      {
        type: {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler', display: 'Assembler' },
          ],
        },
        who: { display: 'Chartkeeper C-CDA import' },
      },
    ],
    ...(summary.document.reference ? { entity: [{ role: 'source', what: { reference: summary.document.reference } }] } : {}),
  };
}
