import { createHash } from 'node:crypto';
import { strFromU8, unzipSync } from 'fflate';
import { attr, child, childrenNamed, localName, parseXmlTree, textContent, type XmlNode } from '../html/xml-tree';
import { buildXdmZip, XDM_PATHS, type XdmMeta } from './build-xdm-zip';
import { stableUuid, uuidToOid, xdsUniqueId } from './xdm-ids';
import { xdmMetaForCcd } from './xdm-meta-for-ccd';

const XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Résumé &amp; care</title></ClinicalDocument>';
const META: XdmMeta = {
  documentId: '6f1c7a55-7d0e-4a4e-9a55-1b5d4c1c0abc',
  patientId: 'WFM-100042',
  patientIdRoot: '2.16.840.1.113883.3.9999.1',
  patientName: { family: 'Park', given: ['Ada'] },
  patientBirthDate: '1984-03-14',
  patientGender: 'female',
  creationTime: new Date('2026-11-21T12:00:00Z'),
  serviceStart: '2024-01-01',
  serviceStop: '2024-12-31',
  authorInstitution: 'Westside Family Medicine',
  sourceId: '2.16.840.1.113883.3.9999',
};

function slots(node: XmlNode | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of childrenNamed(node, 'rim:Slot'))
    out[attr(s, 'name') as string] = childrenNamed(child(s, 'rim:ValueList'), 'rim:Value').map(textContent);
  return out;
}

describe('buildXdmZip', () => {
  const files = unzipSync(buildXdmZip(XML, META));
  const metadata = parseXmlTree(strFromU8(files[XDM_PATHS.metadata])).find((n) => localName(n) === 'SubmitObjectsRequest') as XmlNode;
  const list = child(metadata, 'rim:RegistryObjectList');
  const entry = child(list, 'rim:ExtrinsicObject');
  const set = child(list, 'rim:RegistryPackage');

  it('holds the IHE XDM files at their places, and the readable copy beside the document, linked from INDEX.HTM', () => {
    expect(Object.keys(files).sort()).toEqual([
      'IHE_XDM/SUBSET01/DOC0001.HTM',
      'IHE_XDM/SUBSET01/DOC0001.XML',
      'IHE_XDM/SUBSET01/METADATA.XML',
      'INDEX.HTM',
      'README.TXT',
    ]);
    expect(strFromU8(files[XDM_PATHS.document])).toBe(XML);
    expect(strFromU8(files[XDM_PATHS.index])).toContain('<a href="IHE_XDM/SUBSET01/DOC0001.XML">');
    expect(strFromU8(files[XDM_PATHS.index])).toContain('<a href="IHE_XDM/SUBSET01/DOC0001.HTM">');
    expect(strFromU8(files[XDM_PATHS.readable])).toContain('<!DOCTYPE html>');
    expect(strFromU8(files[XDM_PATHS.readable])).toContain('<title>Résumé &amp; care</title>');
    expect(strFromU8(files[XDM_PATHS.readme])).toContain('IHE_XDM/SUBSET01/DOC0001.XML  the clinical document');
  });

  it('describes the document: SHA-1 hash and size of the UTF-8 bytes, times, patient, URI', () => {
    const bytes = Buffer.from(XML, 'utf8');
    const s = slots(entry);
    expect(s.hash).toEqual([createHash('sha1').update(bytes).digest('hex')]);
    expect(s.size).toEqual([String(bytes.length)]);
    expect(s.creationTime).toEqual(['20261121120000']);
    expect(s.serviceStartTime).toEqual(['20240101']);
    expect(s.serviceStopTime).toEqual(['20241231']);
    expect(s.sourcePatientId).toEqual(['WFM-100042^^^&2.16.840.1.113883.3.9999.1&ISO']);
    expect(s.sourcePatientInfo).toEqual([
      'PID-3|WFM-100042^^^&2.16.840.1.113883.3.9999.1&ISO',
      'PID-5|Park^Ada^^^',
      'PID-7|19840314',
      'PID-8|F',
    ]);
    expect(s.URI).toEqual(['DOC0001.XML']);
    expect(attr(entry, 'mimeType')).toBe('text/xml');
  });

  it('codes class, type, format and confidentiality', () => {
    const codes = Object.fromEntries(
      childrenNamed(entry, 'rim:Classification')
        .filter((c) => attr(c, 'nodeRepresentation'))
        .map((c) => [attr(c, 'classificationScheme'), attr(c, 'nodeRepresentation')]),
    );
    expect(codes['urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a']).toBe('34133-9');
    expect(codes['urn:uuid:f0306f51-975f-434e-a61c-c59651d33983']).toBe('34133-9');
    expect(codes['urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d']).toBe('urn:hl7-org:sdwg:ccda-structuredBody:2.1');
    expect(codes['urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f']).toBe('N');
  });

  it('gives the document and submission set unique ids and patient ids, and links them', () => {
    const ids = (n: XmlNode | undefined): Record<string, string> =>
      Object.fromEntries(
        childrenNamed(n, 'rim:ExternalIdentifier').map((e) => [
          attr(child(e, 'rim:Name', 'rim:LocalizedString'), 'value'),
          attr(e, 'value'),
        ]),
      );
    const de = ids(entry);
    expect(de['XDSDocumentEntry.uniqueId']).toBe(uuidToOid(META.documentId));
    expect(de['XDSDocumentEntry.patientId']).toBe('WFM-100042^^^&2.16.840.1.113883.3.9999.1&ISO');
    const ss = ids(set);
    expect(ss['XDSSubmissionSet.sourceId']).toBe('2.16.840.1.113883.3.9999');
    expect(ss['XDSSubmissionSet.patientId']).toBe('WFM-100042^^^&2.16.840.1.113883.3.9999.1&ISO');
    expect(ss['XDSSubmissionSet.uniqueId']).toMatch(/^2\.25\.\d+$/);
    const assoc = child(list, 'rim:Association');
    expect([attr(assoc, 'sourceObject'), attr(assoc, 'targetObject')]).toEqual([attr(set, 'id'), attr(entry, 'id')]);
    const ssClass = childrenNamed(list, 'rim:Classification')[0];
    expect(attr(ssClass, 'classificationNode')).toBe('urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd');
  });

  it('is deterministic for the same input', () => {
    expect(Buffer.from(buildXdmZip(XML, META)).equals(Buffer.from(buildXdmZip(XML, META)))).toBe(true);
  });
});

describe('XDS ids', () => {
  it('turns UUIDs into 2.25 OIDs and keeps OIDs', () => {
    expect(uuidToOid('00000000-0000-0000-0000-00000000000a')).toBe('2.25.10');
    expect(xdsUniqueId('1.2.3', '9.9')).toBe('1.2.3');
    expect(xdsUniqueId('doc-1', '9.9')).toBe('9.9^doc-1');
  });

  it('makes version-5-shaped UUIDs that depend only on their input', () => {
    const a = stableUuid('x', 'y');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(stableUuid('x', 'y')).toBe(a);
    expect(stableUuid('x', 'z')).not.toBe(a);
  });
});

describe('xdmMetaForCcd', () => {
  it('takes the patient id from an OID-system identifier and the times from the document', () => {
    const meta = xdmMetaForCcd(
      {
        patient: {
          resourceType: 'Patient',
          id: 'p1',
          identifier: [{ system: 'urn:oid:2.16.840.1.113883.3.9999.1', value: 'WFM-1' }],
          name: [{ family: 'Park', given: ['Ada'] }],
        },
        resources: [],
        custodian: { resourceType: 'Organization', name: 'Westside' },
        documentId: 'd',
        now: new Date('2026-11-21T12:00:00Z'),
        period: { start: '2024-01-01', end: '2024-01-31' },
      },
      '1.2.3',
    );
    expect([meta.patientId, meta.patientIdRoot, meta.serviceStart, meta.serviceStop, meta.authorInstitution]).toEqual([
      'WFM-1',
      '2.16.840.1.113883.3.9999.1',
      '2024-01-01',
      '2024-01-31',
      'Westside',
    ]);
  });
});
