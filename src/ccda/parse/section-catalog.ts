/**
 * The sections the import maps, recognised by templateId root (C-CDA R2.x "entries required"
 * and "entries optional" variants, R1.1, CCD R1 and HITSP) or, failing that, by LOINC code.
 * A section that is not here keeps its narrative in the Composition and produces a warning.
 */
export type SectionKind =
  | 'allergies'
  | 'problems'
  | 'medications'
  | 'immunizations'
  | 'results'
  | 'vital-signs'
  | 'social-history'
  | 'procedures'
  | 'encounters'
  | 'plan-of-treatment'
  | 'goals'
  | 'health-concerns'
  | 'functional-status'
  | 'mental-status'
  | 'medical-equipment'
  | 'payers'
  | 'notes'
  | 'family-history'
  | 'advance-directives'
  | 'diagnoses'
  | 'referral'
  | 'instructions'
  | 'interventions'
  | 'outcomes'
  | 'nutrition'
  | 'narrative-only';

interface SectionDefinition {
  readonly kind: SectionKind;
  readonly loinc: readonly string[];
  readonly templates: readonly string[];
}

const C = '2.16.840.1.113883.10.20.22.2.';
const DEFINITIONS: readonly SectionDefinition[] = [
  {
    kind: 'allergies',
    loinc: ['48765-2'],
    templates: [`${C}6`, `${C}6.1`, '2.16.840.1.113883.10.20.1.2', '2.16.840.1.113883.3.88.11.83.102'],
  },
  {
    kind: 'problems',
    loinc: ['11450-4', '11348-0', '11329-0'],
    templates: [`${C}5`, `${C}5.1`, `${C}20`, '2.16.840.1.113883.10.20.1.11', '2.16.840.1.113883.3.88.11.83.103'],
  },
  {
    kind: 'medications',
    loinc: ['10160-0', '29549-3', '42346-7', '10183-2', '75311-1'],
    templates: [
      `${C}1`,
      `${C}1.1`,
      `${C}38`,
      `${C}44`,
      `${C}11`,
      `${C}11.1`,
      '2.16.840.1.113883.10.20.1.8',
      '2.16.840.1.113883.3.88.11.83.112',
    ],
  },
  {
    kind: 'immunizations',
    loinc: ['11369-6'],
    templates: [`${C}2`, `${C}2.1`, '2.16.840.1.113883.10.20.1.6', '2.16.840.1.113883.3.88.11.83.117'],
  },
  {
    kind: 'results',
    loinc: ['30954-2'],
    templates: [`${C}3`, `${C}3.1`, '2.16.840.1.113883.10.20.1.14', '2.16.840.1.113883.3.88.11.83.122'],
  },
  {
    kind: 'vital-signs',
    loinc: ['8716-3'],
    templates: [`${C}4`, `${C}4.1`, '2.16.840.1.113883.10.20.1.16', '2.16.840.1.113883.3.88.11.83.119'],
  },
  { kind: 'social-history', loinc: ['29762-2'], templates: [`${C}17`, '2.16.840.1.113883.10.20.1.15', '2.16.840.1.113883.3.88.11.83.126'] },
  {
    kind: 'procedures',
    loinc: ['47519-4', '59774-0'],
    templates: [`${C}7`, `${C}7.1`, `${C}25`, '2.16.840.1.113883.10.20.1.12', '2.16.840.1.113883.3.88.11.83.108'],
  },
  {
    kind: 'encounters',
    loinc: ['46240-8'],
    templates: [`${C}22`, `${C}22.1`, '2.16.840.1.113883.10.20.1.3', '2.16.840.1.113883.3.88.11.83.127'],
  },
  {
    kind: 'plan-of-treatment',
    loinc: ['18776-5', '51847-2', '59772-4'],
    templates: [`${C}10`, `${C}9`, `${C}30`, '2.16.840.1.113883.10.20.1.10'],
  },
  { kind: 'goals', loinc: ['61146-7'], templates: [`${C}60`] },
  { kind: 'health-concerns', loinc: ['75310-3'], templates: [`${C}58`] },
  { kind: 'functional-status', loinc: ['47420-5'], templates: [`${C}14`, '2.16.840.1.113883.10.20.1.5'] },
  { kind: 'mental-status', loinc: ['10190-7'], templates: [`${C}56`] },
  { kind: 'medical-equipment', loinc: ['46264-8'], templates: [`${C}23`, '2.16.840.1.113883.10.20.1.7'] },
  { kind: 'payers', loinc: ['48768-6'], templates: [`${C}18`, '2.16.840.1.113883.10.20.1.9'] },
  { kind: 'notes', loinc: ['11488-4', '34109-9'], templates: [`${C}65`] },
  { kind: 'family-history', loinc: ['10157-6'], templates: [`${C}15`, '2.16.840.1.113883.10.20.1.4'] },
  { kind: 'advance-directives', loinc: ['42348-3'], templates: [`${C}21`, `${C}21.1`, '2.16.840.1.113883.10.20.1.1'] },
  {
    kind: 'diagnoses',
    loinc: ['11535-2', '46241-6', '10218-6', '10219-4', '51848-0', '55109-3', '59776-5', '59768-2'],
    templates: [`${C}24`, `${C}43`, `${C}35`, `${C}34`, `${C}8`, `${C}37`, `${C}28`, `${C}29`],
  },
  { kind: 'referral', loinc: ['42349-1'], templates: ['1.3.6.1.4.1.19376.1.5.3.1.3.1'] },
  { kind: 'instructions', loinc: ['69730-0'], templates: [`${C}45`] },
  { kind: 'interventions', loinc: ['62387-6'], templates: ['2.16.840.1.113883.10.20.21.2.3'] },
  { kind: 'outcomes', loinc: ['11383-7'], templates: [`${C}61`] },
  { kind: 'nutrition', loinc: ['61144-2'], templates: [`${C}57`] },
];

const byTemplate = new Map<string, SectionKind>();
const byLoinc = new Map<string, SectionKind>();
for (const def of DEFINITIONS) {
  for (const t of def.templates) byTemplate.set(t, def.kind);
  for (const l of def.loinc) if (!byLoinc.has(l)) byLoinc.set(l, def.kind);
}

/** The section kind for a section's templateId roots and LOINC code ('narrative-only' when unknown). */
export function sectionKind(templateRoots: readonly string[], loinc: string | undefined): SectionKind {
  for (const root of templateRoots) {
    const kind = byTemplate.get(root);
    if (kind) return kind;
  }
  return (loinc && byLoinc.get(loinc)) || 'narrative-only';
}

/** The USCDI-era sections whose entries the corpus test holds to "at least one resource per entry". */
export const USCDI_SECTION_KINDS: ReadonlySet<SectionKind> = new Set<SectionKind>([
  'allergies',
  'problems',
  'medications',
  'immunizations',
  'results',
  'vital-signs',
  'social-history',
  'procedures',
  'encounters',
  'plan-of-treatment',
  'goals',
  'health-concerns',
  'functional-status',
  'mental-status',
  'medical-equipment',
  'notes',
]);
