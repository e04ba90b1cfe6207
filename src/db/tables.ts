import type { ColumnType, Generated } from 'kysely';

/** The current version of every resource (deleted ones stay, marked deleted, so vread/history work). */
export interface ResourceTable {
  resource_type: string;
  id: string;
  version: number;
  last_updated: ColumnType<Date, Date | string, Date | string>;
  deleted: boolean;
  /** The resource as JSON text: served as stored, without re-serialising. */
  content: string;
  /** Ids of the Patients whose compartment holds this resource (FHIR patient CompartmentDefinition). */
  compartments: string[];
  /**
   * Whose record it belongs to, which access follows (src/access/record-owners.ts): the ids of the Patients it is
   * about, or `Organization/<id>` for a file kept outside every record by the organisation that uploaded it.
   */
  owners: string[];
}

/** Every version of every resource, including the current one. */
export interface ResourceHistoryTable {
  resource_type: string;
  id: string;
  version: number;
  last_updated: ColumnType<Date, Date | string, Date | string>;
  deleted: boolean;
  content: string;
  /** This version's compartments (a resource can move between records). */
  compartments: string[];
  /** This version's owners: each version is shown only to those who may see the record it was in. */
  owners: string[];
}

interface IndexRow {
  resource_type: string;
  resource_id: string;
  /** The search parameter code, e.g. `code`, `patient`, `birthdate`. */
  code: string;
}

/** Token and uri search values; `text` holds lower-cased display text for `:text`. */
export interface SearchTokenTable extends IndexRow {
  system: string | null;
  value: string | null;
  text: string | null;
}

/** String search values, normalised (lower case, accents removed) for prefix/contains matching. */
export interface SearchStringTable extends IndexRow {
  value: string;
  /** The value as written, for `:exact`. */
  exact: string;
}

/** Date search values as the closed interval the stored value covers at its precision. */
export interface SearchDateTable extends IndexRow {
  low: ColumnType<Date, Date | string, Date | string>;
  high: ColumnType<Date, Date | string, Date | string>;
}

/** Reference search values, split into target type and id for joins. */
export interface SearchReferenceTable extends IndexRow {
  target_type: string | null;
  target_id: string;
  /** The referring resource's last_updated: one record's rows newest first from the index (migration 0026). */
  last_updated: ColumnType<Date | null, Date | string, Date | string>;
}

/** Quantity and number search values. */
export interface SearchQuantityTable extends IndexRow {
  value: string;
  system: string | null;
  unit: string | null;
}

/** A portal (patient or family member) or staff account. Emails are stored lower-cased. */
export interface AccountTable {
  id: string;
  email: string;
  /** Null until the account is activated (an enrollment invitation not yet accepted). */
  password_hash: string | null;
  kind: 'patient' | 'family' | 'staff';
  /** The account holder's own Patient, when they are a patient of the practice. */
  patient_id: string | null;
  /** Staff: the Practitioner they are. */
  practitioner_id: string | null;
  /** Staff: the Organization whose patients they see. */
  organization_id: string | null;
  display_name: string;
  security_question: string | null;
  security_answer_hash: string | null;
  disabled_at: ColumnType<Date, Date | string | null, Date | string | null> | null;
  created_at: ColumnType<Date, Date | string, Date | string>;
  updated_at: ColumnType<Date, Date | string, Date | string>;
}

/** A refresh token, stored hashed; a family is one login session, rotated on every use. */
export interface RefreshTokenTable {
  id: string;
  account_id: string;
  family_id: string;
  token_hash: string;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  created_at: ColumnType<Date, Date | string, Date | string>;
  used_at: ColumnType<Date, Date | string | null, Date | string | null> | null;
  revoked_at: ColumnType<Date, Date | string | null, Date | string | null> | null;
}

/** Passcodes, invitations, reset links and verification codes, stored hashed, single use. */
export interface OneTimeSecretTable {
  id: string;
  /** e.g. family-passcode, family-invitation, enrollment, password-reset, staff-reset, verification-code */
  purpose: string;
  secret_hash: string;
  account_id: string | null;
  patient_id: string | null;
  email: string | null;
  /** JSON with what the secret stands for (requester details, access level...). */
  payload: string;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  used_at: ColumnType<Date, Date | string | null, Date | string | null> | null;
  failed_attempts: number;
  created_at: ColumnType<Date, Date | string, Date | string>;
}

/** Failure counters for login and rate limits, keyed e.g. `acct:<id>` or `addr:<ip>:login`. */
export interface ThrottleTable {
  key: string;
  failures: number;
  last_failure_at: ColumnType<Date, Date | string, Date | string>;
}

/** Access records waiting to become AuditEvents (src/access/audit-log.ts). */
export interface AuditLogTable {
  seq: Generated<string>;
  /** One AuditEntry (jsonb since migration 0005). */
  entry: unknown;
}

/** Answered requests and new messages whose email to the patient is still to go (src/jobs/portal-notice-job.ts). */
export interface PortalNoticeTable {
  seq: Generated<string>;
  patient_id: string;
  /**
   * 'request-answered', 'new-message', 'form-completed' (form-completion job), or 'email-changed' (a security notice
   * to `address`, the email replaced: on the record, resource Patient/<patient_id>, or the account's login, resource
   * account/<account id>).
   */
  kind: string;
  resource_type: string;
  resource_id: string;
  /** Where an 'email-changed' notice goes (migration 0022); null for the others, which go to the record's readers. */
  address: string | null;
  noted_at: ColumnType<Date, Date | string, Date | string>;
}

/** Released documents whose email to the patient is still to go (src/jobs/release-notice-job.ts). */
export interface ReleaseNoticeTable {
  seq: Generated<string>;
  patient_id: string;
  resource_type: string;
  resource_id: string;
  released_at: ColumnType<Date, Date | string, Date | string>;
}

/** Billing emails still to go: statements issued and payment receipts (migration 0014, billing-notice job). */
export interface BillingNoticeTable {
  seq: Generated<string>;
  kind: 'statement' | 'receipt';
  patient_id: string;
  invoice_id: string;
  payment_id: string | null;
  payer_account_id: string | null;
  card_last4: string | null;
  noted_at: ColumnType<Date, Date | string, Date | string>;
}

/** Payment processor events already recorded, by event id: a replayed webhook records nothing new (migration 0014). */
export interface PaymentEventTable {
  processor: string;
  event_id: string;
  event_type: string;
  received_at: ColumnType<Date, Date | string, Date | string>;
}

/** Files `chartkeeper import` imported, by the SHA-256 of their bytes (src/fhir/imported-file-ledger.ts). */
export interface ImportedFileTable {
  sha256: string;
  /** The batch entry this row stands for, or -1 for a file imported whole. */
  entry: number;
  /** The file's name without its folder, to notice a changed file under a name imported before. */
  file_name: string;
  /** The path it was imported from, as the importing command resolved it. */
  path: string;
  resources: number;
  imported_at: ColumnType<Date, Date | string, Date | string>;
}

/** Stored file content, keyed by the SHA-256 of its bytes (src/fhir/binary/database-binary-store.ts). */
export interface BinaryContentTable {
  sha256: string;
  /** bigint: node-postgres reads it as text. */
  size: ColumnType<string, number, number>;
  /** The type it was first stored with (each Binary says its own). */
  content_type: string;
  created_at: Generated<Date>;
}

/** The bytes of stored content, in parts of 1 MiB (the last one shorter); empty content has none. */
export interface BinaryContentPartTable {
  sha256: string;
  part: number;
  data: Uint8Array;
}

/** The version of the portal consent form an account completed (src/portal/enrollment/portal-consent-service.ts). */
export interface PortalConsentTable {
  account_id: string;
  /** The form's canonical URL and version (Questionnaire.url, Questionnaire.version). */
  form_url: string;
  form_version: string;
  accepted_at: ColumnType<Date, Date | string, Date | string>;
  /** The Consent and QuestionnaireResponse ids written for it (one per record the account stands in). */
  consent_ids: string[];
  response_ids: string[];
}

/** A further record an account holds as the patient, at another practice (src/portal/enrollment/practice-enrollment-service.ts). */
export interface AccountRecordTable {
  account_id: string;
  patient_id: string;
  /** The record's managing Organization when it was linked. */
  organization_id: string | null;
  linked_at: ColumnType<Date, Date | string, Date | string>;
  /** Set when staff un-enroll the account from that practice. */
  ended_at: ColumnType<Date, Date | string | null, Date | string | null> | null;
}

/** The delivery state of a stored Subscription resource (src/fhir/subscriptions, migration 0017). */
export interface SubscriptionTable {
  id: string;
  /** The type its criteria search, e.g. DocumentReference. */
  resource_type: string;
  /** The criteria's query, without the type: `status=current`, or empty for every resource of the type. */
  criteria: string;
  /** The organisation whose staff wrote it, or null for the operator's (kept for its write placement). */
  owner_organization: string | null;
  /** Who wrote it last (their scope's description); null: written before migration 0025. */
  owner: string | null;
  /**
   * The access it notifies with: its last writer's (access/kept-access.ts: KeptAccess as jsonb); null: written before
   * migration 0025, which notifies with owner_organization's full access.
   */
  owner_access: ColumnType<unknown, string | null, string | null>;
  endpoint: string;
  /** null: id-only notifications; `application/fhir+json`: the resource too. */
  payload: string | null;
  /** The channel's `Name: value` headers (jsonb text array). */
  headers: ColumnType<string[], string, string>;
  heartbeat_seconds: number | null;
  /** requested, active, error or off (as the resource says). */
  status: string;
  handshake_pending: boolean;
  failures: number;
  error: string | null;
  next_attempt_at: ColumnType<Date, Date | string, Date | string>;
  /** A delivery job run holds the subscription until then (one sender at a time, in order). */
  lease_until: ColumnType<Date | null, Date | string | null, Date | string | null>;
  last_sent_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  /** bigint: node-postgres reads it as text. */
  events_delivered: ColumnType<string, number | string | undefined, number | string>;
}

/** The transactional outbox of notifications still to deliver (migration 0017). */
export interface SubscriptionNotificationTable {
  seq: Generated<string>;
  subscription_id: string;
  resource_type: string;
  resource_id: string;
  version: number;
  queued_at: ColumnType<Date, Date | string, Date | string>;
}

type Instant = ColumnType<Date, Date | string, Date | string>;
type MaybeInstant = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** A Bulk Data export: the request a client polls and its place in the queue (src/fhir/bulk-export, migration 0019). */
export interface ExportJobTable {
  id: string;
  /** The caller's subject: only the same caller reads the status and the files. */
  requester: string;
  /**
   * The AuditEvent agent the export's access records name and the requester's SMART query filters, as
   * `{ agent, resourceFilters }` (jsonb: fhir/bulk-export/export-agent.ts; a row of before the filters
   * were kept holds the agent alone; null: not recorded).
   */
  agent: ColumnType<unknown, string | null, string | null>;
  /** The requester's access, kept to apply it when the job runs: everything, or an organisation's records. */
  unrestricted: boolean;
  organization_id: string | null;
  /** The types a SMART token's scopes let the requester see (null: no such limit). */
  allowed_types: string[] | null;
  /** system, patient or group. */
  level: string;
  group_id: string | null;
  /** A group export: the Group's patients when it was asked for. */
  patient_ids: string[] | null;
  /** The types to export, in the order they are written. */
  types: string[];
  since: MaybeInstant;
  /** The export holds each resource as it was at this instant. */
  transaction_time: Instant;
  request_url: string;
  /** queued, running, completed or failed (a cancelled job is deleted). */
  status: string;
  error: string | null;
  attempts: Generated<number>;
  next_attempt_at: Instant;
  lease_until: MaybeInstant;
  lease_token: string | null;
  finished_at: MaybeInstant;
  /** When a completed export's files are deleted. */
  expires_at: MaybeInstant;
}

/** A batch of ndjson lines an export wrote, in id order within its type (migration 0019). */
export interface ExportChunkTable {
  job_id: string;
  resource_type: string;
  chunk_no: number;
  /** The id of the last resource the batch covered: the next batch starts after it. */
  last_id: string;
  lines: number;
  /** The size of the chunk's lines, newlines included (bigint: node-postgres reads it as text). */
  bytes: ColumnType<string, number, number>;
  /** The resources (in id order) and the version of each that the chunk's lines are. */
  ids: string[];
  versions: number[];
}

/** All tables Chartkeeper's Kysely instance knows. */
export interface Tables {
  resource: ResourceTable;
  resource_history: ResourceHistoryTable;
  search_token: SearchTokenTable;
  search_string: SearchStringTable;
  search_date: SearchDateTable;
  search_reference: SearchReferenceTable;
  search_quantity: SearchQuantityTable;
  account: AccountTable;
  refresh_token: RefreshTokenTable;
  one_time_secret: OneTimeSecretTable;
  throttle: ThrottleTable;
  audit_log: AuditLogTable;
  release_notice: ReleaseNoticeTable;
  billing_notice: BillingNoticeTable;
  payment_event: PaymentEventTable;
  portal_notice: PortalNoticeTable;
  imported_file: ImportedFileTable;
  binary_content: BinaryContentTable;
  binary_content_part: BinaryContentPartTable;
  portal_consent: PortalConsentTable;
  account_record: AccountRecordTable;
  subscription: SubscriptionTable;
  subscription_notification: SubscriptionNotificationTable;
  export_job: ExportJobTable;
  export_chunk: ExportChunkTable;
}
