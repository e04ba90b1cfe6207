/**
 * The soak's portal day: which requests, in what shares, as whom. Reads and searches by portal callers (a patient,
 * a parent, a partner with access), staff writing observations, patients writing messages with attachments, $ccda
 * downloads, C-CDA documents pushed in by an EHR, and sign-ins and token refreshes.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { MESSAGE_SUBJECT_SYSTEM } from '../src/portal/messaging/message-rules';

/** One kind of request of the workload. */
export interface SoakOperation {
  readonly name: string;
  /** Share of the arrivals, in percent. */
  readonly percent: number;
  /**
   * Sends one request; resolves with its HTTP status (0: no answer). `n` counts this operation's own requests (0 for its
   * first), and picks in rotation whom or what the request is about.
   */
  run(n: number): Promise<number>;
  /** What the `n`th request is about (its route, say), for a breakdown of an operation that mixes several kinds. */
  detail?(n: number): string;
}

/** The arrival order of the operations: each appears in proportion to its share, spread evenly over every 100 arrivals. */
export function arrivalOrder(ops: readonly SoakOperation[]): SoakOperation[] {
  const slots: { op: SoakOperation; at: number }[] = [];
  for (const op of ops) for (let k = 0; k < op.percent; k++) slots.push({ op, at: (k + 0.5) / op.percent });
  return slots.sort((a, b) => a.at - b.at).map((s) => s.op);
}

/** One arrival of the soak: the operation, its own count `n`, when it is due (ms after the start) and the minute it counts in. */
export interface Arrival {
  readonly op: SoakOperation;
  readonly n: number;
  readonly dueMs: number;
  readonly minute: number;
}

/**
 * The soak's arrivals at `rate` a second for `minutes`: `order` over and over, arrival k due at k / rate seconds and
 * counted in the minute it is due in, so every minute holds the same arrivals in the same order.
 */
export function* arrivals(order: readonly SoakOperation[], rate: number, minutes: number): Generator<Arrival> {
  const sent = new Map<SoakOperation, number>();
  for (let k = 0; ; k++) {
    const dueMs = (k * 1000) / rate;
    if (dueMs >= minutes * 60_000) return;
    const op = order[k % order.length];
    const n = sent.get(op) ?? 0;
    sent.set(op, n + 1);
    yield { op, n, dueMs, minute: Math.floor(dueMs / 60_000) + 1 };
  }
}

/**
 * How many of `available` items (documents, say) an operation sent `perMinute` times a minute should rotate through so
 * that every minute sends each of them equally often: the largest divisor of `perMinute` not above `available`. Each
 * minute then sends the same mix, and comparing one minute's latencies with another's measures the service, not
 * which items the minute happened to draw.
 */
export function evenRotation(available: number, perMinute: number): number {
  if (!Number.isInteger(perMinute) || perMinute < 1) return 1;
  for (let n = Math.min(available, perMinute); n > 1; n--) if (perMinute % n === 0) return n;
  return 1;
}

/** What the workload needs from the running service. */
export interface SoakContext {
  readonly proxy: string;
  readonly patients: { ada: string; ben: string; cara: string };
  readonly practitioner: string;
  /**
   * The practice's other patients (records of a few dozen resources): staff write to the first half and EHRs send
   * documents about the first few, and staff render documents of the second half.
   */
  readonly clinic: readonly string[];
  /**
   * C-CDA documents of some of them, as the service renders them (an EHR sends them back changed a little each time),
   * imported in rotation: as many as make every minute import each equally often (evenRotation).
   */
  readonly documents: readonly string[];
}

/** A signed-in portal or staff user: a current access token, and idle sessions to refresh. */
class SignedIn {
  accessToken = '';
  private readonly idle: string[] = [];

  constructor(
    readonly email: string,
    private readonly proxy: string,
  ) {}

  async login(): Promise<number> {
    const res = await post(this.proxy, '/auth/login', { email: this.email, password: DEMO_PASSWORD });
    if (res.status === 200) this.keep(res.body);
    return res.status;
  }

  /** Rotates one idle session (a refresh token is used once: two refreshes never share one), or signs in anew. */
  async refresh(): Promise<number> {
    const token = this.idle.shift();
    if (!token) return this.login();
    const res = await post(this.proxy, '/auth/refresh', { refresh_token: token });
    if (res.status === 200) this.keep(res.body);
    return res.status;
  }

  private keep(body: unknown): void {
    const tokens = body as { access_token: string; refresh_token: string };
    this.accessToken = tokens.access_token;
    this.idle.push(tokens.refresh_token);
    // A handful of sessions per person, as phones and browsers would have; the rest are left to expire.
    if (this.idle.length > 5) this.idle.shift();
  }
}

async function post(base: string, route: string, json: unknown, token?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(json),
  });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : text };
}

/** Sends a request and reads the whole answer; the status, or 0 when no answer came. */
async function send(url: string, init: RequestInit): Promise<number> {
  try {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

// A PDF by its content (the portal sniffs attachments), about 60 KB as a scanned form would be.
const PDF = Buffer.concat([
  Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n', 'latin1'),
  Buffer.alloc(60_000, 0x20),
  Buffer.from('trailer\n<<>>\n%%EOF\n'),
]).toString('base64');

/** The portal callers and staff, signed in. */
export async function signInAll(proxy: string): Promise<Record<'ada' | 'dan' | 'cara' | 'staff', SignedIn>> {
  const users = {
    ada: new SignedIn(DEMO_PEOPLE.ada.email as string, proxy),
    dan: new SignedIn(DEMO_PEOPLE.dan.email as string, proxy),
    cara: new SignedIn(DEMO_PEOPLE.cara.email as string, proxy),
    staff: new SignedIn(DEMO_PEOPLE.mayaChen.email as string, proxy),
  };
  for (const user of Object.values(users)) {
    const status = await user.login();
    if (status !== 200) throw new Error(`soak: ${user.email} could not sign in (${status})`);
  }
  return users;
}

/** A transaction creating one of the practice's patients with a small record (vitals, problems, medications, an allergy). */
export function clinicPatientBundle(i: number, organization: string): Bundle {
  const patient = `urn:uuid:${randomUUID()}`;
  const subject = { reference: patient };
  const entries: Resource[] = [];
  for (let k = 0; k < 12; k++) {
    entries.push({
      resourceType: 'Observation',
      status: 'final',
      subject,
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
      effectiveDateTime: new Date(Date.UTC(2024, k, 1 + (i % 27))).toISOString(),
      valueQuantity: { value: 60 + k, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    });
  }
  entries.push(
    {
      resourceType: 'Condition',
      subject,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
      code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' }] },
    },
    {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      subject,
      medicationCodeableConcept: {
        coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '314076', display: 'lisinopril 10 MG Oral Tablet' }],
      },
      authoredOn: '2024-03-01',
    },
    {
      resourceType: 'AllergyIntolerance',
      patient: subject,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      verificationStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }],
      },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '91936005', display: 'Allergy to penicillin' }] },
    },
  );
  const person: Resource = {
    resourceType: 'Patient',
    name: [{ family: `Soak${i}`, given: ['Pat'] }],
    gender: i % 2 ? 'female' : 'male',
    birthDate: `19${50 + (i % 45)}-0${1 + (i % 9)}-1${i % 10}`,
    managingOrganization: { reference: `Organization/${organization}` },
  };
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: patient, resource: person, request: { method: 'POST', url: 'Patient' } },
      ...entries.map((resource) => ({
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource,
        request: { method: 'POST' as const, url: resource.resourceType },
      })),
    ],
  };
}

/** The C-CDA imports' share of the arrivals, in percent (the soak renders as many documents as rotate evenly in a minute). */
export const IMPORT_PERCENT = 2;

/** The operations and their shares (they add up to 100). */
export function portalDay(context: SoakContext, users: Awaited<ReturnType<typeof signInAll>>): SoakOperation[] {
  const { proxy, patients } = context;
  const get = (who: SignedIn, route: string) => send(`${proxy}${route}`, { headers: { Authorization: `Bearer ${who.accessToken}` } });
  // Staff write to the first half of the practice's patients (EHRs send documents about the first few of them); staff
  // render the second half, whose records nothing changes during the run. A record written to 150 times a minute
  // grows by over 100 resources in 30 minutes, and a document of it all grows with it: rendering it would measure
  // the record's growth, not the service's.
  const half = Math.ceil(context.clinic.length / 2);
  const written = context.clinic.slice(0, half);
  const rendered = context.clinic.slice(half);
  const portalReads: [SignedIn, string][] = [
    [users.ada, `/fhir/Patient/${patients.ada}`],
    [users.ada, `/fhir/Observation?patient=${patients.ada}&_count=20`],
    [users.ada, `/fhir/Condition?patient=${patients.ada}`],
    [users.ada, `/fhir/MedicationRequest?patient=${patients.ada}`],
    [users.ada, `/fhir/Immunization?patient=${patients.ben}`],
    [users.ada, `/fhir/DocumentReference?patient=${patients.ada}`],
    [users.ada, `/fhir/Communication?subject=Patient/${patients.ada}&_count=10`],
    [users.dan, `/fhir/Observation?patient=${patients.ada}&code=http://loinc.org|8867-4`],
    [users.dan, `/fhir/AllergyIntolerance?patient=${patients.ada}`],
    [users.cara, `/fhir/Patient/${patients.cara}`],
    [users.cara, `/fhir/Encounter?patient=${patients.cara}`],
  ];
  const json = (who: SignedIn, route: string, body: unknown) =>
    send(`${proxy}${route}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${who.accessToken}`, 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify(body),
    });
  return [
    {
      name: 'portal read/search',
      percent: 70,
      run: (n) => get(...portalReads[n % portalReads.length]),
      detail: (n) => {
        const [who, route] = portalReads[n % portalReads.length];
        const name = Object.entries(users).find(([, user]) => user === who)?.[0] ?? '?';
        return `${name} ${route.replace(/\/fhir\//, '').replace(/[0-9a-f-]{36}/g, (id) => (id === patients.ada ? 'ada' : id === patients.ben ? 'ben' : id === patients.cara ? 'cara' : 'id'))}`;
      },
    },
    {
      name: 'staff write',
      percent: 10,
      run: (n) =>
        json(users.staff, '/fhir/Observation', {
          resourceType: 'Observation',
          status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
          subject: { reference: `Patient/${written[n % written.length]}` },
          effectiveDateTime: new Date().toISOString(),
          valueQuantity: { value: 60 + (n % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
        }),
    },
    {
      name: 'message + attachment',
      percent: 5,
      run: (n) =>
        json(users.ada, '/fhir/Communication', {
          resourceType: 'Communication',
          status: 'completed',
          subject: { reference: `Patient/${patients.ada}` },
          sender: { reference: `Patient/${patients.ada}` },
          recipient: [{ reference: `Practitioner/${context.practitioner}` }],
          topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'medical-question' }] },
          payload: [
            { contentString: `Question ${n} about my visit` },
            { contentAttachment: { contentType: 'application/pdf', data: PDF, title: `form-${n}.pdf` } },
          ],
        }),
    },
    // Ada for her own record (which her messages and her family's reads keep adding to), and staff for the practice's
    // patients that nothing writes to during the run.
    { name: '$ccda Ada (portal)', percent: 2, run: () => get(users.ada, `/fhir/Patient/${patients.ada}/$ccda`) },
    {
      name: '$ccda clinic (staff)',
      percent: 3,
      run: (n) => get(users.staff, `/fhir/Patient/${rendered[n % rendered.length]}/$ccda`),
    },
    {
      name: 'C-CDA import',
      percent: IMPORT_PERCENT,
      // The EHR sends the record back with a change of its own (another digest), as a later visit's document would.
      run: (n) =>
        send(`${proxy}/fhir/$import-ccda`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${users.staff.accessToken}`, 'Content-Type': 'application/xml' },
          body: `${context.documents[n % context.documents.length]}\n<!-- soak ${n} ${Date.now()} -->\n`,
        }),
    },
    { name: 'login', percent: 4, run: (n) => [users.ada, users.dan, users.cara][n % 3].login() },
    { name: 'refresh', percent: 4, run: (n) => [users.ada, users.dan, users.cara, users.staff][n % 4].refresh() },
  ];
}
